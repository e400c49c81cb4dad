"""GPU-hours of the default config's training jobs (main grid, sweeps and methods comparison, as
`reproduction.grid.Grid.points()` enumerates them), per experiment and model, for random and length-grouped
batches, from real token counts and measured step costs per token; and the count of the analyses' jobs.

What is measured and what is extrapolated (the results file repeats it):

- Token counts: the local copies (``--data``, laid out like ../shared/data) tokenized here with the bundled
  MiniLM tokenizer (the bert-base-uncased WordPiece vocabulary; RoBERTa's BPE differs a little), truncated
  at max_length, and batched exactly as training does (`maskbert.batching`, dynamic padding; dev in
  `maskbert.evaluation.predict`'s length-sorted batches). QNLI (dev only here) and AG (test only) have
  their training split's lengths resampled from the local split at Table 5's size; SEM, POS and SWAG
  have no local data: Table 5's sizes, a stated mean length, and the median padding factors of the
  tokenized tasks.
- Step cost: the H100 fp32 BERT-base steps of bench/results/step_cost_bert_h100.md (batch 32 x 128:
  masking 2-11 0.053 s, 0-11 0.0605 s, finetuning 0.061 s), divided by the 4,096 tokens of the batch. A
  step is taken to cost in proportion to its padded tokens (extrapolated: a GPU step has a fixed part
  that short batches do not amortize, so the grouped figures are optimistic by that part); RoBERTa-base
  is costed as BERT-base, DistilBERT as half of it (6 of 12 blocks): extrapolated, not measured. The
  comparison's BitFit, LoRA and (IA)^3 steps are costed as finetuning's (extrapolated, not measured: each
  backpropagates through every block; it updates fewer weights).
- The analyses (Table 3, Figures 4-7) train no grid point: their jobs are counted, not costed.
- tf32 and bf16: not measured (no GPU was lent where this was written); ``--gpu-steps`` reads the JSON of
  bench/gpu_step_cost.py and fills those columns from its measured step times.
- On this CPU (measured here): MiniLM masking and finetuning steps at batch 32 and several lengths, fp32
  and bf16, fitted as fixed + per-token seconds; it shows how far a step is from proportional to tokens.

Every run is counted at all `training.epochs` (no early stop): an upper bound in epochs.

    OMP_NUM_THREADS=1 python bench/grid_cost.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import yaml
from machine_info import cpu_name

from maskbert.batching import epoch_batches, padded_tokens
from maskbert.data import get_task, read_splits
from maskbert.data.encoding import encode_split, load_tokenizer
from reproduction.grid import Grid, new_points

ROOT = Path(__file__).resolve().parents[1]
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TABLE5 = Path("/work/shared/paper/table5_split_sizes.csv")
TOKENS_PER_MEASURED_STEP = 32 * 128
# bench/results/step_cost_bert_h100.md: NVIDIA H100 80GB, fp32, BERT-base, batch 32 x 128, median of 30 steps.
H100_BERT_STEP = {"masking": 0.053, "masking_all_blocks": 0.0605, "finetuning": 0.061}
# Extrapolated, not measured: the comparison's methods at finetuning's step cost.
STEP_AS = {"bitfit": "finetuning", "lora": "finetuning", "ia3": "finetuning"}
# Extrapolated, not measured: RoBERTa-base has BERT-base's 12 blocks of width 768; DistilBERT has 6.
MODEL_FACTOR = {"bert-base-uncased": 1.0, "roberta-base": 1.0, "distilbert-base-uncased": 0.5}
# Tasks without local data: Table 5's sizes (POS dev in words / 24 words a sentence) and an assumed mean
# length in wordpieces with [CLS]/[SEP]; SWAG counts its 4 choices as 4 sequences.
ASSUMED = {
    "sem": {"train": 4300, "dev": 1325, "mean_length": 30, "sequences": 1, "why": "tweets, ~20 words"},
    "pos": {"train": 38000, "dev": 135105 // 24, "mean_length": 32, "sequences": 1, "why": "WSJ, ~24 words"},
    "swag": {"train": 113000, "dev": 20006, "mean_length": 45, "sequences": 4, "why": "context + ending"},
}
RESAMPLED = {"qnli": ("dev", 108000, 5732), "ag": ("test", 96000, 24000)}  # local split, Table 5 sizes


def tokenized_lengths(task: str, data: str, max_length: int, tokenizer_cache: dict) -> dict:
    """Per split, the wordpiece length of each example as training sees it (truncated)."""
    spec = get_task(task)
    local, train_size, dev_size = RESAMPLED.get(task, (None, None, None))
    splits = read_splits(task, "local", data, splits=(local,) if local else ("train", "dev"))
    if spec.kind not in tokenizer_cache:
        tokenizer_cache[spec.kind] = load_tokenizer(MINILM, spec.kind)
    lengths = {}
    for split, examples in splits.items():
        columns, _ = encode_split(spec, examples, tokenizer_cache[spec.kind], max_length)
        lengths[split] = [len(ids) for ids in columns["input_ids"]]
    if local:
        rng = random.Random(0)
        pool = lengths[local]
        return {
            "train": rng.choices(pool, k=train_size),
            "dev": rng.choices(pool, k=dev_size),
            "how": f"lengths of the local {local} split ({len(pool):,}), resampled to Table 5's sizes",
        }
    return {**lengths, "how": "the local train and dev splits, tokenized"}


def sorted_batches_tokens(lengths: list[int], batch_size: int) -> int:
    """Padded tokens of `predict`'s length-sorted batches."""
    ordered = sorted(lengths)
    return sum(
        len(chunk) * max(chunk)
        for chunk in (ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size))
    )


def task_tokens(lengths: dict, batch_size: int, seeds=(1, 2), epochs=(1, 2)) -> dict:
    """Training tokens per epoch (real, random batches, grouped batches) and dev tokens, per run."""
    train = lengths["train"]
    padded = {
        arm: statistics.mean(
            padded_tokens(train, epoch_batches(train, batch_size, s, e, arm == "grouped"))
            for s in seeds
            for e in epochs
        )
        for arm in ("random", "grouped")
    }
    return {
        "train": len(train),
        "dev": len(lengths["dev"]),
        "mean_length": statistics.mean(train),
        "real": sum(train),
        "random": padded["random"],
        "grouped": padded["grouped"],
        "at_128": math.ceil(len(train) / batch_size) * batch_size * 128,
        "dev_tokens": sorted_batches_tokens(lengths["dev"], 2 * batch_size),
        "how": lengths["how"],
    }


def assumed_tokens(task: str, factors: dict, batch_size: int) -> dict:
    a = ASSUMED[task]
    real = a["train"] * a["mean_length"] * a["sequences"]
    return {
        "train": a["train"],
        "dev": a["dev"],
        "mean_length": a["mean_length"],
        "real": real,
        "random": real * factors["random"],
        "grouped": real * factors["grouped"],
        "at_128": math.ceil(a["train"] / batch_size) * batch_size * 128 * a["sequences"],
        "dev_tokens": a["dev"] * a["mean_length"] * a["sequences"] * factors["dev"],
        "how": (
            f"assumed: Table 5's sizes, mean length {a['mean_length']} ({a['why']}), "
            f"{a['sequences']} sequence(s) an example, the tokenized tasks' median padding factors"
        ),
    }


def cpu_step_costs(lengths=(16, 32, 64, 128), steps: int = 3) -> dict:
    """MiniLM steps at batch 32 on this CPU: seconds per step by (method, precision, length) and a fit."""
    import argparse as _argparse

    from transformers.utils import logging

    from maskbert.methods import get_method
    from maskbert.precision import forward_precision

    logging.set_verbosity_error()
    task = _argparse.Namespace(name="bench", kind="single", label_names=("a", "b"))
    out = {}
    for method_name in ("masking", "finetuning"):
        method = get_method(method_name)
        model = method.build(MINILM, task, 1).train()
        optimizer = torch.optim.Adam(method.trainable_parameters(model).values(), lr=1e-5)
        for precision in ("fp32", "bf16"):
            times = {}
            for length in lengths:
                ids = torch.randint(1000, 30000, (32, length), generator=torch.Generator().manual_seed(0))
                labels = torch.randint(0, 2, (32,), generator=torch.Generator().manual_seed(1))
                measured = []
                for step in range(steps + 1):
                    started = time.process_time()
                    with forward_precision(precision, "cpu"):
                        loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    if step:
                        measured.append(time.process_time() - started)
                times[length] = statistics.median(measured)
            tokens = np.array([32 * length for length in lengths], dtype=float)
            slope, fixed = np.polyfit(tokens, np.array([times[n] for n in lengths]), 1)
            out[f"{method_name} {precision}"] = {"seconds": times, "fixed": fixed, "per_token": slope}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--config", default=str(ROOT / "config.yaml"))
    parser.add_argument("--gpu-steps", default=None, help="JSON written by bench/gpu_step_cost.py")
    parser.add_argument("--skip-cpu", action="store_true", help="leave out the CPU step measurements")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "grid_cost.md"))
    args = parser.parse_args()
    cfg = yaml.safe_load(Path(args.config).read_text())
    training, max_length = cfg["training"], cfg["data"]["max_length"]
    epochs = training["epochs"]

    def batch_size(task):
        return (training.get("batch_size_per_task") or {}).get(task, training["batch_size"])

    grid = Grid(cfg)
    points = new_points(grid.points())
    tasks = list(dict.fromkeys([*cfg["tasks"], *(p.task for new in points.values() for p in new)]))
    tokens, cache = {}, {}
    for task in tasks:
        if task not in ASSUMED:
            tokens[task] = task_tokens(
                tokenized_lengths(task, args.data, max_length, cache), batch_size(task)
            )
            print(f"tokenized {task}", flush=True)
    factors = {
        arm: statistics.median(t[arm] / t["real"] for t in tokens.values()) for arm in ("random", "grouped")
    }
    factors["dev"] = statistics.median(t["dev_tokens"] / t["dev"] / t["mean_length"] for t in tokens.values())
    for task in tasks:
        if task in ASSUMED:
            tokens[task] = assumed_tokens(task, factors, batch_size(task))

    gpu = json.loads(Path(args.gpu_steps).read_text()) if args.gpu_steps else None
    options = [("fp32", "random"), ("fp32", "grouped"), ("tf32", "random"), ("tf32", "grouped")]
    options += [("bf16", "random"), ("bf16", "grouped")]

    def step_seconds(point, precision):
        """Seconds of a fp32 H100 step per token for this point, times the measured precision ratio."""
        kind = STEP_AS.get(point.method, point.method)
        if kind == "masking" and grid.options(kind, point.setting)["masked_blocks"].startswith("0-"):
            kind = "masking_all_blocks"
        base = H100_BERT_STEP[kind] / TOKENS_PER_MEASURED_STEP * MODEL_FACTOR[point.model]
        if precision == "fp32":
            return base
        if gpu is None:
            return None
        method = "masking" if point.method == "masking" else "finetuning"
        return base * gpu["step"][method][precision] / gpu["step"][method]["fp32"]

    rows = []
    for experiment, new in points.items():
        for model in sorted({p.model for p in new}):
            mine = [p for p in new if p.model == model]
            row = {"experiment": experiment, "model": model, "jobs": len(mine)}
            row["padded to 128"] = sum(
                epochs
                * (tokens[p.task]["at_128"] + tokens[p.task]["dev_tokens"] / 3)
                * step_seconds(p, "fp32")
                for p in mine
            )
            for precision, arm in options:
                costs = [step_seconds(p, precision) for p in mine]
                row[f"{precision} {arm}"] = (
                    None
                    if None in costs
                    else sum(
                        epochs * (tokens[p.task][arm] + tokens[p.task]["dev_tokens"] / 3) * c
                        for p, c in zip(mine, costs)
                    )
                )
            rows.append(row)
    analysis_jobs = {name: len(jobs) for name, jobs in grid.analyses.items()}
    cpu = None if args.skip_cpu else cpu_step_costs()
    write(args, cfg, tokens, factors, rows, analysis_jobs, cpu, gpu, options)


def _hours(seconds) -> str:
    return "not measured" if seconds is None else f"{seconds / 3600:,.0f}"


def write(args, cfg, tokens, factors, rows, analysis_jobs, cpu, gpu, options) -> None:
    lines = [
        "# GPU-hours of the default config's training jobs",
        "",
        f"Written by `bench/grid_cost.py` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}) from "
        f"{Path(args.config).name}: {cfg['training']['epochs']} epochs for every run (no early stop), "
        f"max length {cfg['data']['max_length']}. See the script's docstring for what is measured and what "
        "is extrapolated; in short: token counts are real (tokenized here) except where the task table says "
        "otherwise, the fp32 step cost per token is measured on an H100 for BERT-base masking and finetuning "
        "at batch 32 x 128, a step is taken to cost in proportion to its padded tokens, RoBERTa-base is "
        "costed as BERT-base and DistilBERT as half, and the comparison's BitFit, LoRA and (IA)^3 as "
        "finetuning.",
        "",
        "## GPU-hours (new jobs per experiment, in order; H100)",
        "",
        "| experiment | model | train jobs | fp32, padded to 128 (earlier estimate) | "
        + " | ".join(f"{p}, {a}" for p, a in options)
        + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in options) + " |",
    ]
    totals = Counter()
    for row in rows:
        lines.append(
            f"| {row['experiment']} | {row['model']} | {row['jobs']:,} | {_hours(row['padded to 128'])} | "
            + " | ".join(_hours(row[f"{p} {a}"]) for p, a in options)
            + " |"
        )
        for key in ["padded to 128"] + [f"{p} {a}" for p, a in options]:
            totals[key] = None if totals.get(key, 0) is None or row[key] is None else totals[key] + row[key]
        totals["jobs"] += row["jobs"]
    lines.append(
        f"| total | | {totals['jobs']:,} | {_hours(totals['padded to 128'])} | "
        + " | ".join(_hours(totals[f"{p} {a}"]) for p, a in options)
        + " |"
    )
    lines += [
        "",
        "Analysis jobs (they read the main grid's selected runs and train no grid point; counted, not costed): "
        + ", ".join(f"{name} {count}" for name, count in analysis_jobs.items())
        + f"; {sum(analysis_jobs.values())} in all.",
    ]
    if gpu is None:
        lines += [
            "",
            "tf32 and bf16: not measured (no GPU was lent); run bench/gpu_step_cost.py, then this "
            "script with `--gpu-steps`.",
        ]
    else:
        lines += ["", f"tf32 and bf16 step ratios measured on {gpu['machine']} (bench/gpu_step_cost.py)."]
    lines += [
        "",
        "## Tokens per task (one epoch of one run)",
        "",
        "| task | train | dev | mean length | real tokens | padded, random | padded, grouped | random / grouped "
        "| padded to 128 | source of the lengths |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for task, t in tokens.items():
        lines.append(
            f"| {task} | {t['train']:,} | {t['dev']:,} | {t['mean_length']:.1f} | {t['real']:,.0f} | "
            f"{t['random']:,.0f} | {t['grouped']:,.0f} | {t['random'] / t['grouped']:.2f}x | "
            f"{t['at_128']:,} | {t['how']} |"
        )
    lines += [
        "",
        f"Median padding factors of the tokenized tasks (used for SEM, POS and SWAG): random batches "
        f"{factors['random']:.2f}x the real tokens, grouped {factors['grouped']:.2f}x, dev (length-sorted) "
        f"{factors['dev']:.2f}x.",
    ]
    if cpu:
        lines += [
            "",
            "## Measured here: MiniLM-L6 steps on this CPU (batch 32, 1 thread, CPU seconds, median of 3)",
            "",
            "| method, precision | "
            + " | ".join(f"length {n}" for n in next(iter(cpu.values()))["seconds"])
            + " | fixed s / step (fit) | ms per 1k tokens (fit) | fixed share of a 32 x 128 step |",
            "| --- | "
            + " | ".join("---" for _ in next(iter(cpu.values()))["seconds"])
            + " | --- | --- | --- |",
        ]
        for name, c in cpu.items():
            full = c["fixed"] + c["per_token"] * TOKENS_PER_MEASURED_STEP
            lines.append(
                f"| {name} | "
                + " | ".join(f"{s:.2f}" for s in c["seconds"].values())
                + f" | {c['fixed']:.3f} | {1e6 * c['per_token']:.2f} | {c['fixed'] / full:.0%} |"
            )
        lines += [
            "",
            f"Machine: {cpu_name()}, torch {torch.__version__}. bf16 here is CPU autocast: whether it is faster "
            "depends on the CPU's bfloat16 instructions; it says nothing about a GPU.",
        ]
    out = Path(args.out)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
