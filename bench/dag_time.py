"""How long the workflow takes to plan: `snakemake -n tables` (a dry run, nothing trained) for config.yaml
(~5,800 jobs), the same without the methods comparison, and config/demo.yaml, CPU and wall seconds of the
snakemake process, several repeats each; and against Snakemake's own floor: a bare workflow of the same shape
and about the same number of jobs (a train rule over five wildcards with five file outputs, one evaluate
job per run, one aggregate; shell rules, no params, no conda), as the ratio of CPU seconds per planned job.
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
BARE = "bare workflow (same shape, shell rules only)"
CONFIGS = {
    "config.yaml": [ROOT / "config.yaml"],
    "config.yaml without the methods comparison": [ROOT / "config.yaml", NO_COMPARISON],
    "config/demo.yaml": [ROOT / "config.yaml", ROOT / "config" / "demo.yaml"],
}


def snakemake_version() -> str:
    from snakemake import __version__

    return __version__


# The bare workflow: 3 models x 11 tasks x 2 methods x 11 rates x 4 seeds = 2,904 runs, each trained and
# evaluated, and one aggregate: 5,809 jobs, about config.yaml's count.
BARE_SNAKEFILE = """
RUNS = expand(
    "runs/{model}/{task}/{method}/lr{lr}/seed{seed}",
    model=["m1", "m2", "m3"],
    task=[f"t{i}" for i in range(11)],
    method=["masking", "finetuning"],
    lr=[f"{i}e-5" for i in range(1, 12)],
    seed=[1, 2, 3, 4],
)


rule tables:
    input:
        expand("{run}/test.json", run=RUNS),
    output:
        "table.csv",
    shell:
        "cat {input} > {output}"


rule train:
    output:
        "runs/{model}/{task}/{method}/lr{lr}/seed{seed}/summary.json",
        "runs/{model}/{task}/{method}/lr{lr}/seed{seed}/run.json",
        "runs/{model}/{task}/{method}/lr{lr}/seed{seed}/metrics.jsonl",
        "runs/{model}/{task}/{method}/lr{lr}/seed{seed}/dev_predictions.safetensors",
        "runs/{model}/{task}/{method}/lr{lr}/seed{seed}/artifact.safetensors",
    shell:
        "touch {output}"


rule evaluate:
    input:
        "runs/{model}/{task}/{method}/lr{lr}/seed{seed}/artifact.safetensors",
    output:
        "runs/{model}/{task}/{method}/lr{lr}/seed{seed}/test.json",
    shell:
        "touch {output}"
"""


def dry_run(configfiles: list[Path], snakefile: Path = ROOT / "Snakefile") -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, jobs) of one `snakemake -n tables` in a fresh directory."""
    with tempfile.TemporaryDirectory() as workdir:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile)]
            + (["--configfile", *map(str, configfiles)] if configfiles else [])
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
    rows, per_job = [], {}
    with tempfile.TemporaryDirectory() as bare_dir:
        bare = Path(bare_dir) / "Snakefile"
        bare.write_text(BARE_SNAKEFILE)
        plans = {name: (files, ROOT / "Snakefile") for name, files in CONFIGS.items()}
        plans[BARE] = ([], bare)
        for name, (files, snakefile) in plans.items():
            runs = [dry_run(files, snakefile) for _ in range(args.repeats)]
            cpu, wall = [r[0] for r in runs], [r[1] for r in runs]
            per_job[name] = statistics.median(cpu) / runs[0][2]
            rows.append(
                f"| {name} | {runs[0][2]:,} | {statistics.median(cpu):.1f} | {min(cpu):.1f}–{max(cpu):.1f} "
                f"| {statistics.median(wall):.1f} | {min(wall):.1f}–{max(wall):.1f} | {1000 * per_job[name]:.2f} |"
            )
            print(rows[-1], flush=True)
    ratio = per_job["config.yaml"] / per_job[BARE]
    text = "\n".join(
        [
            "Time to plan the workflow: `snakemake -n tables --cores 4` in an empty directory (nothing trained; "
            f"the DAG of every job), {args.repeats} repeats per config, CPU and wall seconds of the snakemake "
            "process (bench/dag_time.py).",
            "",
            header,
            "",
            "| config | jobs | CPU s (median) | CPU s (range) | wall s (median) | wall s (range) | CPU ms per job |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"Planning config.yaml costs {ratio:.2f}x the CPU time per job of the bare workflow (Snakemake's own "
            "floor for a DAG of this shape; target: at most 1.3x).",
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
