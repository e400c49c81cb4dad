"""How long the workflow takes to plan: `snakemake -n tables` (a dry run, nothing trained) for config.yaml
(~5,800 jobs), the same without the methods comparison, and config/demo.yaml, CPU and wall seconds of the
snakemake process, several repeats each.
A speed target, not a test: tests/test_workflow_dag.py checks the job counts, this script the time.
Writes bench/results/dag_time.md naming the machine and the Snakemake version.

    python bench/dag_time.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine_info import machine

ROOT = Path(__file__).resolve().parents[1]
NO_COMPARISON = ROOT / "bench" / "no_comparison.yaml"  # comparison: null, to show the comparison's share
CONFIGS = {
    "config.yaml": [ROOT / "config.yaml"],
    "config.yaml without the methods comparison": [ROOT / "config.yaml", NO_COMPARISON],
    "config/demo.yaml": [ROOT / "config.yaml", ROOT / "config" / "demo.yaml"],
}


def snakemake_version() -> str:
    from snakemake import __version__

    return __version__


def dry_run(configfiles: list[Path]) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, jobs) of one `snakemake -n tables` in a fresh directory."""
    with tempfile.TemporaryDirectory() as workdir:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--configfile"]
            + [str(path) for path in configfiles]
            + ["-n", "tables", "--quiet", "all", "--cores", "4", "--directory", workdir],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
            check=False,
        )
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"snakemake -n tables failed for {configfiles}:\n{proc.stderr[-2000:]}")
    total = [line.split() for line in proc.stdout.splitlines() if line.startswith("total")]
    jobs = int(total[0][1]) if total else -1
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "dag_time.md")
    args = parser.parse_args()
    header = f"Machine: {machine(torch_threads=False)}; Snakemake {snakemake_version()}."
    rows = []
    for name, files in CONFIGS.items():
        runs = [dry_run(files) for _ in range(args.repeats)]
        cpu, wall = [r[0] for r in runs], [r[1] for r in runs]
        rows.append(
            f"| {name} | {runs[0][2]:,} | {statistics.median(cpu):.1f} | {min(cpu):.1f}–{max(cpu):.1f} "
            f"| {statistics.median(wall):.1f} | {min(wall):.1f}–{max(wall):.1f} |"
        )
        print(rows[-1], flush=True)
    text = "\n".join(
        [
            "Time to plan the workflow: `snakemake -n tables --cores 4` in an empty directory (nothing trained; "
            f"the DAG of every job), {args.repeats} repeats per config, CPU and wall seconds of the snakemake "
            "process (bench/dag_time.py).",
            "",
            header,
            "",
            "| config | jobs | CPU s (median) | CPU s (range) | wall s (median) | wall s (range) |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            "Wall seconds depend on what else the machine runs (load average above); CPU seconds less so.",
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
