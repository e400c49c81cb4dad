"""Time and memory of one training step, masking vs finetuning, on the same model and batch.

Each (method, length) is measured in a fresh subprocess so that its peak resident memory (CPU) or peak
allocated memory (CUDA) belongs to that configuration alone. Prints a Markdown table and writes it to
bench/results/step_cost.md (with the machine it ran on).

    python bench/step_cost.py                      # bundled MiniLM-L6, batch 32, lengths 64 and 128
    python bench/step_cost.py --model bert-base-uncased --steps 20
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from machine_info import machine


def measure(model_name: str, method: str, length: int, batch_size: int, steps: int, warmup: int) -> dict:
    from transformers.utils import logging

    from maskbert.methods import build_model

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    task = argparse.Namespace(name="bench", kind="pair", label_names=("a", "b"))
    model = build_model(model_name, task, method, seed=1).to(device).train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    generator = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size
    ids = torch.randint(1000, vocab, (batch_size, length), generator=generator).to(device)
    labels = torch.randint(0, 2, (batch_size,), generator=generator).to(device)
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        baseline_cuda = torch.cuda.memory_allocated()
    times = []
    for step in range(warmup + steps):
        started = time.perf_counter()
        loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - started)
    if device == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
        step_mb = (torch.cuda.max_memory_allocated() - baseline_cuda) / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        step_mb = peak_mb - baseline_kb / 1024
    return {
        "method": method,
        "length": length,
        "median_s": statistics.median(times),
        "peak_mb": peak_mb,
        "step_mb": step_mb,
        "device": device,
    }


def device_name() -> str:
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lengths", default="64,128")
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "step_cost.md"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, length = args.child.split(":")
        print(json.dumps(measure(args.model, method, int(length), args.batch_size, args.steps, args.warmup)))
        return
    rows = {}
    for length in [int(x) for x in args.lengths.split(",")]:
        for method in ("finetuning", "masking"):
            command = [
                sys.executable,
                __file__,
                "--child",
                f"{method}:{length}",
                "--model",
                args.model,
                "--batch-size",
                str(args.batch_size),
                "--steps",
                str(args.steps),
                "--warmup",
                str(args.warmup),
            ]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rows[method, length] = json.loads(output.strip().splitlines()[-1])
            print(f"measured {method} at length {length}", file=sys.stderr)
    lines = [
        (
            f"Step cost, {args.model}, batch {args.batch_size}, median of {args.steps} steps after {args.warmup} warm-up; "
            f"machine: {device_name()}."
        ),
        "",
        (
            "| length | finetuning s/step | masking s/step | time ratio | finetuning peak MB | masking peak MB | "
            "peak ratio | finetuning step MB | masking step MB | step-memory ratio |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for length in sorted({length for _, length in rows}):
        ft, mk = rows["finetuning", length], rows["masking", length]
        lines.append(
            f"| {length} | {ft['median_s']:.3f} | {mk['median_s']:.3f} | {mk['median_s'] / ft['median_s']:.2f} | "
            f"{ft['peak_mb']:.0f} | {mk['peak_mb']:.0f} | {mk['peak_mb'] / ft['peak_mb']:.2f} | "
            f"{ft['step_mb']:.0f} | {mk['step_mb']:.0f} | {mk['step_mb'] / max(ft['step_mb'], 1e-9):.2f} |"
        )
    lines += [
        "",
        (
            "Peak MB: the process's peak resident memory (CPU) or peak allocated memory (CUDA); step MB: "
            "the part of it above what the loaded model held before the first step (activations, gradients, "
            "optimizer state)."
        ),
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(table)


if __name__ == "__main__":
    main()
