"""The methods comparison on real data, as a results file: the workflow's table and figure, every run behind
them, and what each method cost on this machine.

It reads what `snakemake methods_comparison` wrote for a config (by default config/comparison-minilm.yaml:
TREC and MRPC from ../shared/data, the bundled all-MiniLM-L6-v2, 3 epochs, seeds 1 and 2, two learning
rates per method) and writes bench/results/methods_comparison_minilm.md with the figure beside it. It trains
nothing; run it on the machine that trained the runs, since the header names this machine.

    snakemake methods_comparison --cores 2 --configfile config/comparison-minilm.yaml
    python bench/comparison_results.py
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path

import pandas as pd
import yaml
from machine_info import machine

from reproduction.report import to_markdown

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "snakemake methods_comparison --cores 2 --configfile config/comparison-minilm.yaml"


def read_runs(results: Path) -> pd.DataFrame:
    """One row per finished run under results/runs: its identity (run.json), best dev score, epochs and wall time."""
    rows = []
    for summary_path in sorted(results.glob("runs/*/*/*/*/lr*/seed*/summary.json")):
        run = summary_path.parent
        identity = json.loads((run / "run.json").read_text())  # what the run was trained with
        summary = json.loads(summary_path.read_text())
        epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        rows.append(
            {
                "task": identity["task"],
                "method": identity["method"],
                "lr": identity["lr"],
                "seed": identity["seed"],
                "best dev": summary["best_dev_score"],
                "best epoch": summary["best_epoch"],
                "dev per epoch": ", ".join(f"{e['dev_score']:.1f}" for e in epochs),
                "minutes": sum(e["seconds"] for e in epochs) / 60,
                "mask bits flipped (%)": 100 * summary["mask_changed"] if "mask_changed" in summary else None,
            }
        )
    return pd.DataFrame(rows)


def cost_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean wall minutes of a run (training and dev passes) per task and method, and relative to finetuning."""
    minutes = runs.pivot_table(index="method", columns="task", values="minutes", aggfunc=statistics.mean)
    relative = minutes / minutes.loc["finetuning"] if "finetuning" in minutes.index else None
    table = minutes.map(lambda m: f"{m:.1f}")
    if relative is not None:
        table = table + relative.map(lambda r: f" ({r:.2f}x)")
    return table.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "config/comparison-minilm.yaml"))
    parser.add_argument("--out", default=str(ROOT / "bench/results/methods_comparison_minilm.md"))
    args = parser.parse_args()

    config = yaml.safe_load(Path(args.config).read_text())
    results = ROOT / config["results"]
    table_md = results / "tables/methods_comparison.md"
    figure = results / "figures/methods_comparison.png"
    if not table_md.exists():
        raise SystemExit(f"{table_md} does not exist: run `{COMMAND}` first")
    out = Path(args.out)
    shutil.copyfile(figure, out.with_suffix(".png"))
    runs = read_runs(results)

    run_table = runs.sort_values(["task", "method", "lr", "seed"])
    run_table["minutes"] = run_table["minutes"].map(lambda m: f"{m:.1f}")
    run_table["mask bits flipped (%)"] = run_table["mask bits flipped (%)"].map(
        lambda v: "" if pd.isna(v) else f"{v:.1f}"
    )
    run_table["lr"] = run_table["lr"].map(lambda lr: f"{lr:g}")
    run_table["best dev"] = run_table["best dev"].map(lambda s: f"{s:.2f}")

    lines = [
        "# Masking against finetuning, BitFit, LoRA and (IA)^3 on real data (MiniLM, TREC and MRPC)",
        "",
        f"Machine: {machine()}. Written by `bench/comparison_results.py` from the workflow's outputs in "
        f"`{config['results']}/`.",
        "",
        f"Command: `{COMMAND}`, then `python bench/comparison_results.py`.",
        "",
        f"Setting (`{Path(args.config).relative_to(ROOT)}`): {', '.join(config['tasks'])} from ../shared/data; "
        f"the bundled all-MiniLM-L6-v2; {config['training']['epochs']} epochs, batch "
        f"{config['training']['batch_size']}, length-grouped batches "
        f"({'on' if config['training'].get('group_by_length') else 'off'}); seeds "
        f"{', '.join(map(str, config['seeds']))}; learning rates per method: "
        + "; ".join(
            f"{method} {', '.join(f'{lr:g}' for lr in config['learning_rates'][method])}"
            for method in config["comparison"]["methods"]
        )
        + ". Each method at its main setting (masking: blocks 2-5, pooler and classifier, 5% initial "
        "sparsity; LoRA: r=8, alpha=8, no dropout, on W_q and W_v; (IA)^3: learned vectors scaling keys, "
        "values and the feed-forward output, as in T-Few; BitFit: every bias and the head; LoRA and (IA)^3 "
        "also train the classifier, masking masks it). The learning rate is selected on the mean dev score "
        "over seeds (§4's rule, no extension); TREC's test score is that of the selected runs on its 500-question test set; MRPC "
        "reports dev only.",
        "",
        "## The comparison (the workflow's `tables/methods_comparison.md`)",
        "",
        table_md.read_text().strip(),
        "",
        f"![dev score against bytes per task]({out.with_suffix('.png').name})",
        "",
        "## Cost: mean wall minutes of a run on this machine (relative to finetuning)",
        "",
        "Two runs went at a time, one thread each, so a run's minutes are those of one core.",
        "",
        to_markdown(cost_table(runs)),
        "",
        "## Every run",
        "",
        to_markdown(run_table),
        "",
    ]
    out.write_text("\n".join(lines))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
