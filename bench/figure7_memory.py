"""Peak memory of Figure 7's Bézier-curve training, in weight copies and in MB, for a model's shapes.

The network is built from its config with random weights (memory depends on shapes only), its masked twin
from the same weights; a few curve steps run on random token ids. Runs in a fresh subprocess per measurement
so that the peak resident memory (CPU) or peak allocated memory (CUDA) is this measurement's alone. Prints a
Markdown table and writes it to bench/results/figure7_memory.md (with the machine it ran on).

    python bench/figure7_memory.py                          # BERT-base shapes, batch 8 x 64 tokens, CPU
    python bench/figure7_memory.py --batch-size 32 --length 128 --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from machine_info import cpu_name


def _rss_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(config_name: str, batch_size: int, length: int, steps: int, device: str) -> dict:
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from maskbert.masking import MaskingConfig, mask_model
    from maskbert.pretrained import resolve_model_path, shipped_config_path
    from reproduction.analysis.connectivity import CurveTraining, train_curve
    from reproduction.analysis.models import effective_parameters

    source = shipped_config_path(config_name) or resolve_model_path(config_name)
    config = AutoConfig.from_pretrained(source, num_labels=2)
    baseline = _rss_peak()
    torch.manual_seed(0)
    network = AutoModelForSequenceClassification.from_config(config)
    copy_bytes = sum(p.numel() * p.element_size() for p in network.parameters())
    masked = AutoModelForSequenceClassification.from_config(config)
    masked.load_state_dict(network.state_dict())
    end = {k: v.to(device) for k, v in effective_parameters(mask_model(masked, MaskingConfig())).items()}
    del masked
    network.to(device).requires_grad_(False)
    start = {name: p.detach() for name, p in network.named_parameters()}
    generator = torch.Generator().manual_seed(0)
    rows = [
        {
            "input_ids": torch.randint(1000, 2000, (length,), generator=generator).tolist(),
            "attention_mask": [1] * length,
            "token_type_ids": [0] * length,
            "labels": i % 2,
        }
        for i in range(batch_size * steps)
    ]
    prepared = SimpleNamespace(splits={"train": rows}, pad_token_id=0)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated() if device == "cuda" else _rss_peak()
    started = time.perf_counter()
    train_curve(network, start, end, prepared, CurveTraining(epochs=1, batch_size=batch_size), device)
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:  # the process's peak over the baseline after imports; above the set-up's peak only if training's is higher
        peak = _rss_peak() - baseline
        before -= baseline
    seconds = (time.perf_counter() - started) / steps
    return {
        "model": config_name,
        "parameters": sum(p.numel() for p in network.parameters()),
        "copy_mb": copy_bytes / 1e6,
        "peak_mb": peak / 1e6,
        "setup_mb": before / 1e6,
        "peak_copies": peak / copy_bytes,
        "seconds_per_step": seconds,
        "device": device,
        "batch": f"{batch_size} x {length}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bert-base-uncased", help="a config to take the shapes from")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.model, args.batch_size, args.length, args.steps, args.device)))
        return
    command = [
        sys.executable,
        __file__,
        "--child",
        "--model",
        args.model,
        "--batch-size",
        str(args.batch_size),
        "--length",
        str(args.length),
        "--steps",
        str(args.steps),
        "--device",
        args.device,
    ]
    # glibc keeps freed tensors below its (adaptive) mmap threshold in the heap, so the resident peak would
    # count dead memory; a fixed threshold returns every freed tensor to the OS and the peak counts live ones
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    result = json.loads(
        subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout.splitlines()[-1]
    )
    machine = torch.cuda.get_device_name() if args.device == "cuda" else cpu_name()
    peak_kind = (
        "peak allocated during training (CUDA)"
        if args.device == "cuda"
        else "peak resident memory over the process's after-import baseline (CPU)"
    )
    lines = [
        (
            f"Figure 7 Bézier-curve training, {result['model']} shapes ({result['parameters']:,} parameters, "
            f"{result['copy_mb']:.0f} MB per fp32 copy), batch {result['batch']}, on {machine}."
        ),
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| {peak_kind} | {result['peak_mb']:.0f} MB |",
        f"| the same in weight copies | {result['peak_copies']:.1f} |",
        (
            f"| held before training (network, masked end{'' if args.device == 'cuda' else ', set-up peak'}) | "
            f"{result['setup_mb']:.0f} MB |"
        ),
        f"| seconds per curve step | {result['seconds_per_step']:.2f} |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(__file__).parent / "results" / "figure7_memory.md"
    out.write_text(text)


if __name__ == "__main__":
    main()
