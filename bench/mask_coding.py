"""Coded mask size against its entropy bound, and decode time, on real runs and a BERT-base-sized mask set.

For every run directory (runs trained here on the bundled MiniLM, plus any given on the command line):
the flips against the seeded initial mask, their empirical entropy under three models (i.i.d. per layer;
64 equal-width initial-score bins per layer; maskbert.coding's 64 half-octave bins around tau), the coded
size with every header byte counted, its ratio to the last entropy (target <= 1.05) and bits per masked
weight (target <= 0.2), a bit-exact decode check and the decode time. Then the decode time of a
BERT-base-sized mask set (blocks 2-11 + pooler + classifier: 71.4M weights) with synthetic flips (target
<= 2 s). Writes bench/results/mask_coding.md naming the machine.

    python bench/mask_coding.py                         # trains 3 short demo runs here first
    python bench/mask_coding.py RUN_DIR ... --no-demo   # e.g. 3-epoch TREC and MRPC runs from a GPU
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from machine_info import machine

from maskbert.adapter import mask_file
from maskbert.artifact import artifact_masks, init_order, masking_config, read_artifact
from maskbert.coding import BINS_PER_SIDE, coded_size, decode_masks, encode_masks, initial_scores, score_bins
from maskbert.masking import MaskingConfig
from maskbert.rundir import atomic_path, read_run

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
# (task, lr, epochs): the demo's tasks, learning rates and epochs (config/demo.yaml)
DEMO_RUNS = (("synth-sentiment", 1e-3, 1), ("synth-sentiment", 3e-3, 2), ("synth-ner", 1e-3, 2))


def train_demo_runs(work: Path) -> list[Path]:
    from maskbert.training import TrainConfig, train

    runs = []
    for task, lr, epochs in DEMO_RUNS:
        out = work / f"{task}-lr{lr}-ep{epochs}"
        train(
            TrainConfig(
                model=MINILM,
                task=task,
                method="masking",
                seed=1,
                lr=lr,
                out_dir=str(out),
                epochs=epochs,
                batch_size=32,
                max_length=64,
                masked_blocks="2-5",
                source="synthetic",
                device="cpu",
            )
        )
        runs.append(out)
    return runs


def _entropy(flipped: np.ndarray, counts: np.ndarray) -> float:
    mixed = (flipped > 0) & (flipped < counts)
    p = flipped[mixed] / counts[mixed]
    return float(-(counts[mixed] * (p * np.log2(p) + (1 - p) * np.log2(1 - p))).sum())


def reference_entropies(masks: dict, config: MaskingConfig, order: list[str]) -> dict:
    """Entropy of the flips: i.i.d. per layer, and given 64 equal-width bins of the initial score."""
    iid = uniform = 0.0
    high = config.init_low + (config.threshold - config.init_low) / config.initial_sparsity
    for name, scores in initial_scores(config, [(n, tuple(masks[n].shape)) for n in order]):
        values = scores.reshape(-1).numpy().copy()
        flips = masks[name].reshape(-1).numpy() != (score_bins(scores, config) >= BINS_PER_SIDE)
        iid += _entropy(np.array([flips.sum()]), np.array([flips.size]))
        bins = np.clip(((values - config.init_low) / (high - config.init_low) * 64).astype(int), 0, 63)
        uniform += _entropy(np.bincount(bins, weights=flips, minlength=64), np.bincount(bins, minlength=64))
    return {"iid": iid, "uniform64": uniform}


def measure_run(run_dir: Path, repeats: int) -> dict:
    record = read_run(run_dir)
    file = mask_file(run_dir)
    metadata, tensors = read_artifact(file)
    masks, config, order = (
        artifact_masks(metadata, tensors, str(file)),
        masking_config(metadata),
        init_order(metadata),
    )
    size = coded_size(masks, config, order)
    coded = encode_masks(masks, config, order)
    layers = [(n, tuple(masks[n].shape)) for n in order]
    times, cpu, decoded = [], [], None
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        decoded = decode_masks(coded, config, layers)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return {
        "run": f"{record['task']} lr {record['lr']:g}, {record['epochs']} ep ({run_dir.name})",
        "model": record["model"].split("/")[-1],
        **size,
        **reference_entropies(masks, config, order),
        "exact": all(torch.equal(decoded[n], masks[n]) for n in order),
        "decode_s": statistics.median(times),
        "decode_cpu_s": statistics.median(cpu),
    }


def bert_base_mask_set(flip_peak: float, reach: float, seed: int = 0):
    """BERT-base's masked layers (paper default) with flips at rate flip_peak * (1 - d/reach)^2 at distance d
    of the initial score from tau: flips where training moves scores, near the threshold."""
    shapes = []
    for block in range(2, 12):
        shapes += [(f"bert.encoder.layer.{block}.{t}", (768, 768)) for t in ("K", "Q", "V", "AO")]
        shapes += [
            (f"bert.encoder.layer.{block}.I", (3072, 768)),
            (f"bert.encoder.layer.{block}.O", (768, 3072)),
        ]
    shapes += [("bert.pooler.dense", (768, 768)), ("classifier", (2, 768))]
    config, rng, masks = MaskingConfig(seed=seed), np.random.default_rng(seed), {}
    for name, scores in initial_scores(config, shapes):
        values = scores.reshape(-1).numpy()
        rate = flip_peak * np.clip(1 - np.abs(values - config.threshold) / reach, 0, 1) ** 2
        flips = rng.random(values.size) < rate
        masks[name] = torch.from_numpy(
            ((values >= np.float32(config.threshold)) ^ flips).reshape(scores.shape)
        )
    return masks, config, shapes


def measure_bert_base(repeats: int) -> dict:
    masks, config, shapes = bert_base_mask_set(flip_peak=0.4, reach=0.12)
    order = [n for n, _ in shapes]
    size = coded_size(masks, config, order)
    coded = encode_masks(masks, config, order)
    times, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        decoded = decode_masks(coded, config, shapes)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return {
        **size,
        "exact": all(torch.equal(decoded[n], masks[n]) for n in order),
        "decode_s": statistics.median(times),
        "decode_min_s": min(times),
        "decode_cpu_s": statistics.median(cpu),
    }


def report(rows: list[dict], bert: dict | None, where: str) -> str:
    lines = [
        (
            f"Mask coding (maskbert.coding: flips against the seeded initial mask, 64 half-octave bins of the "
            f"initial score per layer, ANS via constriction); machine: {where}."
        ),
        "",
        (
            "| run | model | masked weights | flipped | entropy i.i.d. bit/w | entropy 64 equal bins bit/w | "
            "entropy, coding's bins bit/w | coded bit/w | coded / entropy | decoded = 1-bit masks | decode s (CPU s) |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        w = r["weights"]
        lines.append(
            f"| {r['run']} | {r['model']} | {w:,} | {100 * r['flip_fraction']:.2f}% | {r['iid'] / w:.4f} | "
            f"{r['uniform64'] / w:.4f} | {r['entropy_bits_per_weight']:.4f} | {r['bits_per_weight']:.4f} | "
            f"{r['bits'] / r['entropy_bits']:.3f} | {'yes' if r['exact'] else 'NO'} | {r['decode_s']:.2f} ({r['decode_cpu_s']:.2f}) |"
        )
    lines += [
        "",
        (
            "Coded bit/w counts every byte stored per layer (bin table, CRC-32, ANS words) over the masked "
            "weights; the 1-bit format is 1.0. Targets: coded / entropy <= 1.05, coded <= 0.2 bit/w."
        ),
    ]
    if bert:
        lines += [
            "",
            (
                f"BERT-base-sized mask set (blocks 2-11 + pooler + classifier, {bert['weights']:,} weights), "
                f"synthetic flips at rate 0.4 (1 - d/0.12)^2 at distance d of the initial score from tau "
                f"({100 * bert['flip_fraction']:.2f}% flipped): coded {bert['bits_per_weight']:.4f} bit/w, "
                f"{bert['bits'] / bert['entropy_bits']:.3f}x the entropy, decoded exactly: "
                f"{'yes' if bert['exact'] else 'NO'}; decode {bert['decode_s']:.2f} s median "
                f"(best {bert['decode_min_s']:.2f} s; {bert['decode_cpu_s']:.2f} s of CPU time; target <= 2 s)."
            ),
            "",
            (
                "Wall times depend on what else the machine runs (its load average is above); CPU time is the "
                "process's own."
            ),
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="*", help="masking run directories to measure as well")
    parser.add_argument("--no-demo", action="store_true", help="do not train the short demo runs here")
    parser.add_argument("--work", default=None, help="where the demo runs go (kept; rerunning reuses them)")
    parser.add_argument("--repeats", type=int, default=3, help="decode timings per mask set (median)")
    parser.add_argument("--skip-bert-base", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "mask_coding.md"))
    args = parser.parse_args()
    from transformers.utils import logging

    logging.set_verbosity_error()
    where = machine()
    runs = [Path(r) for r in args.runs]
    if not args.no_demo:
        runs = train_demo_runs(Path(args.work or tempfile.mkdtemp(prefix="mask-coding-"))) + runs
    rows = [measure_run(run, args.repeats) for run in runs]
    bert = None if args.skip_bert_base else measure_bert_base(args.repeats)
    text = report(rows, bert, where)
    with atomic_path(args.out) as tmp:
        tmp.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
