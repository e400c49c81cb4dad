"""One backbone serving 11 task masks against one finetuned model per task, on the bundled MiniLM.

Masks: for 11 tasks shaped like the paper's (label counts and kinds of MRPC, SST2, CoLA, RTE, QNLI, SEM,
TREC, AG, POS, NER; IMDB in SWAG's place, as multiple choice is not served), each task's seeded initial mask
(initial sparsity 0.05, blocks 2-5) with synthetic flips near the threshold (rate 0.4 (1 - d/0.12)^2 at
distance d of the initial score from tau, about 4% of the weights, like a trained mask), saved coded.
Measured:
- switching task (MaskServer.activate) against one forward batch of 32 requests (their real length, and
  padded to 128 tokens);
- resident memory (process RSS above the same process before loading any model, each setting in a fresh
  process that loads it, writes every weight once (a finetuned model owns its weights rather than sharing
  the checkpoint file's pages), answers one request per task, then trims malloc's free memory; and tensor
  bytes) of the server with 11 masks against one plain model (target <= 1.1x) and against 11 plain models;
- requests per second on a shuffled mixed-task stream: the server (grouping by task per chunk of lines)
  against 11 plain models (one per task, same grouping).
Writes bench/results/serving.md naming the machine.

    python bench/serving.py [--requests-per-task 32]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from machine_info import machine

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TASKS = {
    "mrpc": ("pair", 2),
    "sst2": ("single", 2),
    "cola": ("single", 2),
    "rte": ("pair", 2),
    "qnli": ("pair", 2),
    "sem": ("single", 2),
    "trec": ("single", 6),
    "ag": ("single", 4),
    "pos": ("tagging", 45),
    "ner": ("tagging", 9),
    "imdb": ("single", 2),
}
WORDS = [
    "the",
    "movie",
    "was",
    "surprisingly",
    "good",
    "and",
    "the",
    "actors",
    "seemed",
    "to",
    "enjoy",
    "every",
    "minute",
    "of",
    "it",
    "while",
    "the",
    "audience",
    "in",
    "paris",
    "cheered",
    "loudly",
    "for",
    "the",
    "director",
    "who",
    "had",
    "worked",
    "on",
    "it",
    "for",
    "years",
]


def _task(name: str):
    kind, labels = TASKS[name]
    return type(
        "Task", (), {"name": name, "kind": kind, "label_names": tuple(f"{name}-{i}" for i in range(labels))}
    )


def make_masks(root: Path) -> dict[str, Path]:
    """The 11 tasks' mask directories (see the module docstring)."""
    from maskbert.adapter import save_masks
    from maskbert.coding import BINS_PER_SIDE, initial_scores, score_bins
    from maskbert.masking import MaskingConfig, masked_layers
    from maskbert.methods import build_model

    dirs = {}
    for seed, name in enumerate(TASKS, start=1):
        model = build_model(MINILM, _task(name), "masking", seed, MaskingConfig(masked_blocks="2-5"))
        info, layers, rng = model.maskbert.masking, masked_layers(model), np.random.default_rng(seed)
        shapes = [(n, tuple(layers[n].weight.shape)) for n in info.layer_names]
        for layer_name, scores in initial_scores(info.config, shapes):
            distance = np.abs(scores.reshape(-1).numpy() - info.config.threshold)
            flips = rng.random(distance.size) < 0.4 * np.clip(1 - distance / 0.12, 0, 1) ** 2
            initial = score_bins(scores, info.config) >= BINS_PER_SIDE
            layers[layer_name].set_binary_mask(torch.from_numpy((initial ^ flips).reshape(scores.shape)))
        dirs[name] = save_masks(model, root / name, base_model=MINILM, task=_task(name))
    return dirs


def requests(per_task: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    stream = []
    for name, (kind, _) in TASKS.items():
        for _ in range(per_task):
            request = {"task": name, "text": " ".join(rng.choices(WORDS, k=rng.randint(8, 20)))}
            if kind == "pair":
                request["text_pair"] = " ".join(rng.choices(WORDS, k=rng.randint(6, 14)))
            stream.append(request)
    rng.shuffle(stream)
    return stream


def rss_bytes() -> int:
    """Resident set size after freed memory is handed back to the system (glibc keeps freed arenas)."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def own_weights(*models) -> None:
    """Write every weight once, so each model holds its weights in its own pages, as a finetuned model does,
    instead of sharing the checkpoint file's pages."""
    for model in models:
        for parameter in model.parameters():
            values = parameter.detach().numpy()
            values *= 1.0


def _plain_models(names):
    from maskbert.methods import build_model

    models = {name: build_model(MINILM, _task(name), "finetuning", 1).eval() for name in names}
    own_weights(*models.values())
    return models


def answer_plain(model_for, stream: list[dict], chunk: int) -> None:
    """Answer a stream with plain models (model_for(task) -> model), grouped and batched as the server does."""
    from maskbert.serving import MaskServer

    batching = MaskServer(MINILM)  # only its tokenization and batching; it holds no model
    for start in range(0, len(stream), chunk):
        part = stream[start : start + chunk]
        for name in dict.fromkeys(r["task"] for r in part):
            group = [r for r in part if r["task"] == name]
            task = type(
                "Served", (), {"name": name, "kind": TASKS[name][0], "label_names": _task(name).label_names}
            )
            tokenizer = batching._tokenizer(task.kind)
            with torch.no_grad():
                for b in range(0, len(group), batching.batch_size):
                    batching._run(model_for(name), tokenizer, task, group[b : b + batching.batch_size])


def memory_probe(setting: str, mask_dirs: dict[str, str]) -> dict:
    """RSS growth of this fresh process from loading one setting (all weights in the process's own pages)
    and answering one request per task."""
    from transformers import AutoTokenizer
    from transformers.utils import logging

    from maskbert.pretrained import resolve_model_path
    from maskbert.serving import MaskServer, model_bytes

    logging.set_verbosity_error()
    AutoTokenizer.from_pretrained(resolve_model_path(MINILM))  # tokenizer held in every setting
    before = rss_bytes()
    if setting == "server":
        server = MaskServer(MINILM)
        for name, path in mask_dirs.items():
            server.add(path, name)
        own_weights(*server._models.values())
        server.predict(requests(1))
        tensors = server.resident_bytes()["total"]
    else:
        names = ["sst2"] if setting == "one model" else list(TASKS)
        models = _plain_models(names)
        stream = [r if r["task"] in models else {"task": "sst2", "text": r["text"]} for r in requests(1)]
        answer_plain(models.__getitem__, stream, chunk=len(TASKS))
        tensors = model_bytes(*models.values())
    return {"setting": setting, "rss": rss_bytes() - before, "tensors": tensors}


def time_switch_and_forward(server, stream: list[dict], repeats: int) -> dict:
    names = list(TASKS)
    switches = []
    for i in range(repeats * len(names)):
        started = time.perf_counter()
        server.activate(names[i % len(names)])
        switches.append(time.perf_counter() - started)
    batch = [r for r in stream if r["task"] == "sst2"][:32]
    server.activate("sst2")
    model = server._models[next(iter(server._models))]
    tokenizer = server._tokenizer("single")
    forward = {}
    for label, kwargs in (
        ("short", {"padding": True}),
        ("long", {"padding": "max_length", "max_length": 128}),
    ):
        encoded = tokenizer([r["text"] for r in batch], truncation=True, return_tensors="pt", **kwargs)
        times = []
        with torch.no_grad():
            for _ in range(repeats):
                started = time.perf_counter()
                model(**encoded)
                times.append(time.perf_counter() - started)
        forward[label] = statistics.median(times)
        forward[label + " tokens"] = int(encoded["input_ids"].shape[1])
    return {"switch": statistics.median(switches), "switch_max": max(switches), **forward}


def throughput(stream: list[dict], mask_dirs: dict[str, Path], chunk: int) -> dict:
    from maskbert.serving import MaskServer, serve_lines

    lines = [json.dumps(r) for r in stream]
    server = MaskServer(MINILM)
    for name, path in mask_dirs.items():
        server.add(path, name)
    server.predict(stream[:2])
    started = time.perf_counter()
    answered = sum("error" not in record for record in serve_lines(server, lines, chunk=chunk))
    served = time.perf_counter() - started
    assert answered == len(stream)

    plain = _plain_models(TASKS)
    started = time.perf_counter()
    answer_plain(plain.__getitem__, stream, chunk)
    separate = time.perf_counter() - started
    return {"chunk": chunk, "server_rps": len(stream) / served, "per_task_rps": len(stream) / separate}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests-per-task", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--masks", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "serving.md"))
    args = parser.parse_args()
    from transformers.utils import logging

    logging.set_verbosity_error()
    if args.probe:
        print(json.dumps(memory_probe(args.probe, json.loads(args.masks))))
        return
    where = machine()
    root = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    mask_dirs = make_masks(root)
    probes = {}
    for setting in ("one model", "server", "11 models"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--probe",
                setting,
                "--masks",
                json.dumps({k: str(v) for k, v in mask_dirs.items()}),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        probes[setting] = json.loads(out.strip().splitlines()[-1])

    from maskbert.serving import MaskServer

    stream = requests(args.requests_per_task)
    server = MaskServer(MINILM)
    for name, path in mask_dirs.items():
        server.add(path, name)
    timing = time_switch_and_forward(server, stream, args.repeats)
    rates = [throughput(stream, mask_dirs, chunk) for chunk in (len(stream), 32)]
    stored = sum(task.stored_bytes() for task in server.tasks.values())

    one = probes["one model"]
    lines = [
        (
            f"Serving 11 task masks on one MiniLM-L6 backbone (maskbert.serving.MaskServer) against one plain "
            f"model per task; machine: {where}."
        ),
        "",
        (
            "Masks: each task's seeded initial mask (sparsity 0.05, blocks 2-5) with synthetic flips near the "
            "threshold (about 4% of the masked weights), stored coded; heads of the paper's tasks' sizes."
        ),
        "",
        "| setting | RSS above baseline MB | x one model | tensor MB | x one model |",
        "| --- | --- | --- | --- | --- |",
    ]
    for setting, probe in probes.items():
        lines.append(
            f"| {setting} | {probe['rss'] / 2**20:.1f} | {probe['rss'] / one['rss']:.2f} | "
            f"{probe['tensors'] / 2**20:.1f} | {probe['tensors'] / one['tensors']:.3f} |"
        )
    lines += [
        "",
        f"11 tasks' stored masks and heads: {stored / 2**20:.2f} MB in all.",
        "",
        "| cost | seconds |",
        "| --- | --- |",
        (
            f"| switch task (median over {args.repeats * len(TASKS)} switches; max {timing['switch_max']:.3f}) | "
            f"{timing['switch']:.3f} |"
        ),
        f"| forward batch of 32 requests at their length ({timing['short tokens']} tokens) | {timing['short']:.3f} |",
        f"| forward batch of 32 requests padded to {timing['long tokens']} tokens | {timing['long']:.3f} |",
        "",
        "| requests grouped per chunk of | server requests/s | 11 plain models requests/s |",
        "| --- | --- | --- |",
    ]
    for rate in rates:
        lines.append(f"| {rate['chunk']} lines | {rate['server_rps']:.1f} | {rate['per_task_rps']:.1f} |")
    lines += [
        "",
        f"Stream: {len(stream)} requests, {args.requests_per_task} per task, shuffled; batch size 32.",
    ]
    text = "\n".join(lines) + "\n"
    from maskbert.rundir import atomic_path

    with atomic_path(args.out) as tmp:
        tmp.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
