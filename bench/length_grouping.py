"""Epoch time and dev score with and without length-grouped batches, on real TREC and SST-2, on this CPU.

Masking runs (lr 1e-3, the paper's default masked blocks and 5% initial sparsity) of the bundled
all-MiniLM-L6-v2, batch 32, max length 128, 3 epochs (no early stopping), seeds 1 and 2, random batches
vs `group_by_length` (maskbert.batching), with the library's own `maskbert.training.train`. Training sets:
a fixed subset of each task's training split (`--train-subset`, default 1,000 rows, drawn with
`random.Random(0)`; 0: the whole split), the same for both arms: TREC's split is 5,452 questions less the
548 held out as dev, SST-2's 67,349 sentences (3 epochs of either are beyond a shared, busy 2-core
machine). Dev sets are whole. The arms alternate run by run so that a change in the machine's load hits
both; `--only TASK:ARM:SEED` trains one run, so that runs can go in parallel (each records itself in
WORK/records/). A call without `--only` trains what is not recorded yet (`--report`: nothing), then
writes bench/results/length_grouping.md (and .json) from every record, with the machine and its load
average. Remove WORK to measure again.

The machine is shared, so wall-clock epoch times move with the load; the speed-up is computed from the CPU
time of each epoch's training pass (one thread), which a busy machine disturbs far less, recorded after
every epoch (an unfinished run still counts with the epochs it finished).

    OMP_NUM_THREADS=1 python bench/length_grouping.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import time
from pathlib import Path

from machine_info import machine

from maskbert import training
from maskbert.batching import epoch_batches, padded_tokens, row_length
from maskbert.data import load_prepared, prepare
from maskbert.training import TrainConfig, train

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
RESULTS = Path(__file__).parent / "results"


def subset_train(prepared_dir: Path, out: Path, size: int, seed: int) -> Path:
    """A copy of a prepared task whose train split is `size` rows drawn with random.Random(seed)."""
    import datasets

    if (out / "meta.json").is_file():
        return out
    prepared = load_prepared(prepared_dir)
    rows = sorted(random.Random(seed).sample(range(len(prepared.splits["train"])), size))
    splits = {
        name: split.select(rows) if name == "train" else split for name, split in prepared.splits.items()
    }
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    datasets.DatasetDict(splits).save_to_disk(str(tmp))
    shutil.copy(prepared_dir / "stats.json", tmp / "stats.json")
    meta = {
        **prepared.meta,
        "train_subset": {"size": size, "seed": seed, "of": len(prepared.splits["train"])},
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    tmp.rename(out)
    return out


def padding_stats(prepared_dir: Path, seeds: list[int], epochs: int, batch_size: int) -> dict:
    """Real and padded training tokens per epoch, random vs grouped (mean over the runs' epochs)."""
    lengths = [row_length(row) for row in load_prepared(prepared_dir).splits["train"]]
    padded = {
        arm: statistics.mean(
            padded_tokens(lengths, epoch_batches(lengths, batch_size, seed, epoch, arm == "grouped"))
            for seed in seeds
            for epoch in range(1, epochs + 1)
        )
        for arm in ("random", "grouped")
    }
    return {
        "train_rows": len(lengths),
        "mean_length": statistics.mean(lengths),
        "real_tokens": sum(lengths),
        "padded_tokens": padded,
    }


def write_results(results: dict, out: Path) -> None:
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    lines = [
        "# Length-grouped batches vs random batches (CPU)",
        "",
        f"Machine: {results['machine']}. Written by `bench/length_grouping.py` ({results['written']}).",
        f"Setting: {results['setting']}",
        "",
        "## Padding (exact, from the batch orders)",
        "",
        "| task | train rows | mean length | real tokens / epoch | padded, random | padded, grouped "
        "| random / grouped |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for task, pad in results["padding"].items():
        random_, grouped = pad["padded_tokens"]["random"], pad["padded_tokens"]["grouped"]
        lines.append(
            f"| {task} | {pad['train_rows']:,} | {pad['mean_length']:.1f} | {pad['real_tokens']:,} | "
            f"{random_:,.0f} | {grouped:,.0f} | {random_ / grouped:.2f}x |"
        )
    lines += [
        "",
        "## Runs (measured)",
        "",
        "Train CPU s: CPU seconds of each epoch's training pass (the loop's `_train_epoch`, one thread), "
        "which a busy machine disturbs far less than wall time. Epoch wall s: each epoch with its dev pass, "
        "as metrics.jsonl records it. Load: the 1-minute load average at the start and after each epoch.",
        "",
        "| task | seed | arm | train CPU s per epoch | epoch wall s | dev score per epoch | best dev | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in results["runs"]:
        best = run.get("best_dev_score")
        lines.append(
            f"| {run['task']} | {run['seed']} | {run['arm']} | {', '.join(f'{s:.1f}' for s in run['train_cpu'])} | "
            f"{', '.join(f'{s:.0f}' for s in run.get('epoch_seconds', []))} | "
            f"{', '.join(f'{s:.2f}' for s in run.get('dev_scores', []))} | "
            f"{'unfinished' if best is None else f'{best:.2f}'} | "
            f"{' / '.join(f'{x:.1f}' for x in run['load'])} |"
        )
    lines += ["", "## Summary", ""]
    lines += [
        "| task | random: train CPU s / epoch | grouped: train CPU s / epoch | speed-up (CPU) | "
        "speed-up (wall, whole epochs) | random best dev (per seed) | grouped best dev (per seed) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for task in results["padding"]:
        arms = {}
        for arm in ("random", "grouped"):
            runs = [r for r in results["runs"] if r["task"] == task and r["arm"] == arm and r["train_cpu"]]
            if runs:
                arms[arm] = (
                    statistics.mean(s for r in runs for s in r["train_cpu"]),
                    statistics.mean(s for r in runs for s in r.get("epoch_seconds", [])),
                    [r.get("best_dev_score") for r in runs],
                )
        if len(arms) < 2:
            continue
        (rand_cpu, rand_wall, rand_dev), (group_cpu, group_wall, group_dev) = arms["random"], arms["grouped"]
        lines.append(
            f"| {task} | {rand_cpu:.1f} | {group_cpu:.1f} | {rand_cpu / group_cpu:.2f}x | "
            f"{rand_wall / group_wall:.2f}x | {', '.join('unfinished' if d is None else f'{d:.2f}' for d in rand_dev)} | "
            f"{', '.join('unfinished' if d is None else f'{d:.2f}' for d in group_dev)} |"
        )
    missing = results.get("missing")
    if missing:
        lines += ["", f"Not finished: {', '.join(missing)}."]
    out.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="folder laid out like ../shared/data")
    parser.add_argument("--tasks", default="trec,sst2")
    parser.add_argument("--train-subset", type=int, default=1000, help="training rows per task (0: all)")
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--work", default="results/bench/length_grouping", help="runs and prepared data")
    parser.add_argument("--out", default=str(RESULTS / "length_grouping.md"))
    parser.add_argument(
        "--only",
        default=None,
        metavar="TASK:ARM:SEED",
        help="train just this run (arm: random or grouped) and record it in WORK; the results file is "
        "written by a call without --only, from every run recorded there",
    )
    parser.add_argument("--report", action="store_true", help="train nothing: write the results file only")
    args = parser.parse_args()
    from transformers.utils import logging

    logging.set_verbosity_error()
    work, tasks = Path(args.work), args.tasks.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    prepared = {}
    for task in tasks:
        directory = prepare(task, MODEL, "local", args.data, out_dir=work / "prepared" / task, max_length=128)
        if args.train_subset:
            out = work / "prepared" / f"{task}-{args.train_subset}"
            directory = subset_train(directory, out, args.train_subset, 0)
        prepared[task] = directory
    plan = [(seed, task, arm) for seed in seeds for task in tasks for arm in ("random", "grouped")]
    if args.only:
        task, arm, seed = args.only.split(":")
        plan = [(int(seed), task, arm)]
    elif args.report:
        plan = []
    else:
        plan = [p for p in plan if not (work / "records" / record_name(*p)).is_file()]
    for seed, task, arm in plan:
        record_run(work, prepared[task], task, arm, seed, args)
    if args.only:
        return
    records = sorted((work / "records").glob("*.json")) if (work / "records").is_dir() else []
    runs = [json.loads(path.read_text()) for path in records]
    runs.sort(key=lambda r: (r["seed"], tasks.index(r["task"]), r["arm"] != "random"))
    results = {
        "machine": machine(),
        "written": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "setting": (
            f"masking, {MODEL} (bundled), lr {args.lr}, batch {args.batch_size}, max length 128, "
            f"{args.epochs} epochs, seeds {args.seeds}; training rows per task: "
            f"{args.train_subset or 'all'} (drawn with random.Random(0), the same for both arms); whole dev sets."
        ),
        "padding": {t: padding_stats(prepared[t], seeds, args.epochs, args.batch_size) for t in tasks},
        "runs": runs,
    }
    done = {(r["seed"], r["task"], r["arm"]) for r in runs if "best_dev_score" in r}
    all_runs = [(seed, task, arm) for seed in seeds for task in tasks for arm in ("random", "grouped")]
    results["missing"] = [f"{t} {a} seed {s}" for s, t, a in all_runs if (s, t, a) not in done]
    write_results(results, Path(args.out))


def record_name(seed: int, task: str, arm: str) -> str:
    return f"{task}-{arm}-seed{seed}.json"


def record_run(work: Path, prepared_dir: Path, task: str, arm: str, seed: int, args) -> None:
    """Train one run from scratch and record, after each epoch, the CPU seconds of its training pass (the
    loop's `_train_epoch`, timed from outside), its epochs as metrics.jsonl has them and the load."""
    out = work / "runs" / f"{task}-{arm}-seed{seed}"
    if out.exists():
        raise SystemExit(f"{out}: left by an earlier bench; its CPU time is unknown, remove it first")
    (work / "records").mkdir(parents=True, exist_ok=True)
    record = {"task": task, "seed": seed, "arm": arm, "train_cpu": [], "load": [os.getloadavg()[0]]}
    train_epoch = training._train_epoch

    def timed_epoch(*arguments, **keywords):
        started = time.process_time()
        loss = train_epoch(*arguments, **keywords)
        record["train_cpu"].append(time.process_time() - started)
        record["load"].append(os.getloadavg()[0])
        return loss

    def save(history_file: Path) -> None:
        history = [json.loads(line) for line in history_file.read_text().splitlines()]
        record["epoch_seconds"] = [h["seconds"] for h in history]
        record["dev_scores"] = [h["dev_score"] for h in history]
        (work / "records" / record_name(seed, task, arm)).write_text(json.dumps(record, indent=2))

    training._train_epoch = timed_epoch
    write_lines = training.write_lines_atomic

    def write_and_record(path, lines):  # metrics.jsonl is rewritten after each epoch: record it there
        write_lines(path, lines)
        if Path(path).name == "metrics.jsonl" and lines:
            save(Path(path))

    training.write_lines_atomic = write_and_record
    try:
        summary = train(
            TrainConfig(
                model=MODEL,
                task=task,
                method="masking",
                seed=seed,
                lr=args.lr,
                out_dir=str(out),
                epochs=args.epochs,
                patience=args.epochs,
                batch_size=args.batch_size,
                prepared_dir=str(prepared_dir),
                device="cpu",
                group_by_length=arm == "grouped",
            )
        )
    finally:
        training._train_epoch, training.write_lines_atomic = train_epoch, write_lines
    record["best_dev_score"] = summary["best_dev_score"]
    save(out / "metrics.jsonl")
    print(f"{task} {arm} seed {seed}: {record['train_cpu']}", flush=True)


if __name__ == "__main__":
    main()
