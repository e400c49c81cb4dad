"""GPU-seconds per epoch of BERT-base masking and finetuning in fp32, tf32 and bf16, random vs length-grouped
batches, on the paper's settings (batch 32, max length 128), and one short MiniLM run per option.

Two steps, because the GPU machine has no data:

1. Here (CPU, with the data): ``python bench/gpu_step_cost.py shapes --data ../shared/data`` tokenizes
   the local TREC, SST-2, MRPC, CoLA and RTE training splits with the bundled MiniLM tokenizer (BERT's
   WordPiece vocabulary) and writes, per task and order (random / grouped, seed 1, epoch 1, as
   `maskbert.batching` draws it), how many batches pad to each length: bench/results/epoch_batch_shapes.json.
2. On the GPU (a few minutes): ``python bench/gpu_step_cost.py measure`` builds BERT-base with random
   weights from the shipped config (step time does not depend on the weights), times a training step
   (forward, backward, Adam; median of `--steps` after warm-up) at batch 32 and every 8th padded length up to
   128 for each method and precision, and sums an epoch from the shapes file (a batch's step time is
   interpolated between the measured lengths; the last, smaller batch counts as a full one). It then
   trains the bundled MiniLM for one epoch on the synthetic sentiment task per option. Writes
   bench/results/gpu_step_cost.md and .json (the card named); the JSON feeds
   ``bench/grid_cost.py --gpu-steps``.

Not run yet: no GPU was lent to the session that wrote it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"
SHAPES = RESULTS / "epoch_batch_shapes.json"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
PRECISIONS = ("fp32", "tf32", "bf16")
OPTIONS = [(precision, grouped) for precision in PRECISIONS for grouped in (False, True)]


def shapes(data: str, batch_size: int, max_length: int) -> None:
    from maskbert.batching import epoch_batches
    from maskbert.data import get_task, read_splits
    from maskbert.data.encoding import encode_split, load_tokenizer

    tokenizer = load_tokenizer(MINILM, "single")
    out = {"batch_size": batch_size, "max_length": max_length, "tasks": {}}
    for task in ("trec", "sst2", "mrpc", "cola", "rte"):
        examples = read_splits(task, "local", data, splits=("train", "dev"))["train"]
        columns, _ = encode_split(get_task(task), examples, tokenizer, max_length)
        lengths = [len(ids) for ids in columns["input_ids"]]
        out["tasks"][task] = {
            "train": len(lengths),
            "real_tokens": sum(lengths),
            **{
                arm: dict(
                    sorted(
                        Counter(
                            max(lengths[i] for i in batch)
                            for batch in epoch_batches(lengths, batch_size, 1, 1, arm == "grouped")
                        ).items()
                    )
                )
                for arm in ("random", "grouped")
            },
        }
        print(f"{task}: {len(lengths):,} rows", flush=True)
    SHAPES.write_text(json.dumps(out, indent=1))


def bert_base(directory: Path) -> str:
    from transformers import AutoConfig, AutoModel

    from maskbert.pretrained import shipped_config_path

    config = AutoConfig.from_pretrained(shipped_config_path("bert-base-uncased"))
    AutoModel.from_config(config).save_pretrained(directory)
    return str(directory)


def time_steps(
    model_dir: str, method_name: str, precision: str, lengths, batch_size: int, steps: int
) -> dict:
    import argparse as _argparse

    from maskbert.methods import get_method
    from maskbert.precision import forward_precision, matmul_precision

    task = _argparse.Namespace(name="bench", kind="single", label_names=("a", "b"))
    method = get_method(method_name)
    model = method.build(model_dir, task, 1).cuda().train()
    optimizer = torch.optim.Adam(method.trainable_parameters(model).values(), lr=1e-5)
    generator = torch.Generator().manual_seed(0)
    seconds = {}
    for length in lengths:
        ids = torch.randint(1000, 30000, (batch_size, length), generator=generator).cuda()
        labels = torch.randint(0, 2, (batch_size,), generator=generator).cuda()
        times = []
        for step in range(steps + 3):
            torch.cuda.synchronize()
            started = time.perf_counter()
            with matmul_precision(precision, "cuda"):
                with forward_precision(precision, "cuda"):
                    loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            torch.cuda.synchronize()
            if step >= 3:
                times.append(time.perf_counter() - started)
        seconds[length] = statistics.median(times)
    del model, optimizer
    torch.cuda.empty_cache()
    return seconds


def epoch_seconds(step_seconds: dict, histogram: dict) -> float:
    measured = sorted(step_seconds)
    at = np.interp([int(n) for n in histogram], measured, [step_seconds[n] for n in measured])
    return float(sum(t * count for t, count in zip(at, histogram.values())))


def minilm_runs(work: Path) -> list[dict]:
    from maskbert.data import prepare
    from maskbert.training import TrainConfig, train

    prepared = prepare("synth-sentiment", MINILM, "synthetic", out_dir=work / "prepared")
    rows = []
    for precision, grouped in OPTIONS:
        out = work / f"minilm-{precision}-{'grouped' if grouped else 'random'}"
        summary = train(
            TrainConfig(
                model=MINILM,
                task="synth-sentiment",
                method="masking",
                seed=1,
                lr=1e-3,
                out_dir=str(out),
                epochs=1,
                prepared_dir=str(prepared),
                device="cuda",
                group_by_length=grouped,
                precision=precision,
            )
        )
        history = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
        rows.append(
            {
                "precision": precision,
                "grouped": grouped,
                "dev_score": summary["best_dev_score"],
                "epoch_seconds": history["seconds"],
            }
        )
        print(f"MiniLM {precision} grouped={grouped}: {rows[-1]}", flush=True)
    return rows


def measure(args) -> None:
    if not torch.cuda.is_available():
        sys.exit("gpu_step_cost.py measure: no CUDA device visible")
    from transformers.utils import logging

    logging.set_verbosity_error()
    plan = json.loads(SHAPES.read_text())
    lengths = list(range(8, plan["max_length"] + 1, 8))
    card = torch.cuda.get_device_name(0)
    results = {"machine": card, "torch": torch.__version__, "batch_size": plan["batch_size"], "steps": {}}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = bert_base(Path(tmp) / "bert-base")
        for method in ("masking", "finetuning"):
            for precision in PRECISIONS:
                results["steps"][f"{method} {precision}"] = time_steps(
                    model_dir, method, precision, lengths, plan["batch_size"], args.steps
                )
                print(f"timed {method} {precision}", flush=True)
        results["step"] = {
            method: {p: results["steps"][f"{method} {p}"][max(lengths)] for p in PRECISIONS}
            for method in ("masking", "finetuning")
        }
        results["epochs"] = {
            f"{method} {precision} {arm}": {
                task: epoch_seconds(results["steps"][f"{method} {precision}"], shape[arm])
                for task, shape in plan["tasks"].items()
            }
            for method in ("masking", "finetuning")
            for precision in PRECISIONS
            for arm in ("random", "grouped")
        }
        if not args.skip_runs:
            results["minilm_runs"] = minilm_runs(Path(tmp))
    (RESULTS / "gpu_step_cost.json").write_text(json.dumps(results, indent=1))
    write_markdown(results, plan)


def write_markdown(results: dict, plan: dict) -> None:
    tasks = list(plan["tasks"])
    lines = [
        f"# GPU-seconds per epoch by precision and batch order ({results['machine']})",
        "",
        f"bench/gpu_step_cost.py, torch {results['torch']}; BERT-base with random weights from the shipped "
        f"config; batch {results['batch_size']}; epochs from bench/results/epoch_batch_shapes.json (real "
        "tokenized training splits, seed 1, epoch 1). Training steps only (no dev pass).",
        "",
        "| method, precision, order | " + " | ".join(f"{t} s/epoch" for t in tasks) + " | vs fp32 random |",
        "| --- | " + " | ".join("---" for _ in tasks) + " | --- |",
    ]
    for key, per_task in results["epochs"].items():
        method = key.split()[0]
        base = results["epochs"][f"{method} fp32 random"]
        ratio = statistics.mean(base[t] / per_task[t] for t in tasks)
        lines.append(
            f"| {key} | " + " | ".join(f"{per_task[t]:.1f}" for t in tasks) + f" | {ratio:.2f}x fewer |"
        )
    lines += ["", "Step seconds at batch 32 by padded length:", ""]
    lengths = list(next(iter(results["steps"].values())))
    lines += ["| method, precision | " + " | ".join(str(n) for n in lengths) + " |"]
    lines += ["| --- | " + " | ".join("---" for _ in lengths) + " |"]
    for key, seconds in results["steps"].items():
        lines.append(f"| {key} | " + " | ".join(f"{seconds[n]:.4f}" for n in lengths) + " |")
    if results.get("minilm_runs"):
        lines += [
            "",
            "One epoch of MiniLM masking on synth-sentiment per option (the training loop, on the GPU):",
            "",
        ]
        lines += ["| precision | grouped | epoch s | dev score |", "| --- | --- | --- | --- |"]
        for run in results["minilm_runs"]:
            lines.append(
                f"| {run['precision']} | {run['grouped']} | {run['epoch_seconds']:.1f} | {run['dev_score']:.4f} |"
            )
    (RESULTS / "gpu_step_cost.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    shape = commands.add_parser("shapes", help="on the CPU, with the data: the epochs' batch shapes")
    shape.add_argument("--data", default="../shared/data")
    shape.add_argument("--batch-size", type=int, default=32)
    shape.add_argument("--max-length", type=int, default=128)
    run = commands.add_parser("measure", help="on the GPU: step times and epochs")
    run.add_argument("--steps", type=int, default=10)
    run.add_argument("--skip-runs", action="store_true", help="leave out the MiniLM runs")
    args = parser.parse_args()
    if args.command == "shapes":
        shapes(args.data, args.batch_size, args.max_length)
    else:
        measure(args)


if __name__ == "__main__":
    main()
