"""How long the workflow takes to plan: `snakemake -n tables` (a dry run, nothing trained) for config.yaml
(~5,800 jobs), the same without the methods comparison, and config/demo.yaml, CPU and wall seconds of the
snakemake process, several repeats each; and against Snakemake's own floor: a bare workflow of the same shape
and about the same number of jobs (a train rule over five wildcards with five file outputs, one evaluate
job per run, one aggregate; shell rules, no params, no conda), as the ratio of CPU seconds per planned job,
and the same bare workflow with the features the project's rules use, to tell their share from the rest.
Every dry run goes at the same time as a bare one (one per core) and its ratio is taken against that run.
A speed target, not a test: tests/test_workflow_dag.py checks the job counts, this script the time.
Writes bench/results/dag_time.md naming the machine and the Snakemake version.

    python bench/dag_time.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from machine_info import machine

ROOT = Path(__file__).resolve().parents[1]
NO_COMPARISON = ROOT / "bench" / "no_comparison.yaml"  # comparison: null, to show the comparison's share
BARE = "bare workflow (same shape, shell rules only)"
FEATURED = "bare workflow with the project's rule features"
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


# The bare workflow plus each feature the project's rules use, at Snakemake's own cost: a data job per
# (model, task) that every run reads, a log per job, the artifact as a directory output, a `record` and a
# derived `command` param, threads and a gpu resource, and a selection checkpoint per (model, task, method)
# whose decision the next job reads. What the project costs beyond this is its DAG's own size (more rules,
# more files per job), not any one feature. 5,974 jobs.
FEATURED_SNAKEFILE = """
GRID = dict(model=["m1", "m2", "m3"], task=[f"t{i}" for i in range(11)], method=["masking", "finetuning"])
LRS, SEEDS = [f"{i}e-5" for i in range(1, 12)], [1, 2, 3, 4]
RUNS = expand("runs/{model}/{task}/{method}/lr{lr}/seed{seed}", **GRID, lr=LRS, seed=SEEDS)


def round_decision(w):
    return checkpoints.select_round.get(**w).output[0]


rule tables:
    input:
        expand("{run}/test.json", run=RUNS),
        expand("select/{model}/{task}/{method}/final.json", **GRID),
    output:
        "table.csv",
    shell:
        "cat {input} > {output}"


rule data:
    output:
        directory("data/{model}/{task}"),
    log:
        "logs/data/{model}/{task}.log",
    shell:
        "mkdir -p {output} > {log} 2>&1"


rule train:
    input:
        data="data/{model}/{task}",
    output:
        summary="runs/{model}/{task}/{method}/lr{lr}/seed{seed}/summary.json",
        run="runs/{model}/{task}/{method}/lr{lr}/seed{seed}/run.json",
        metrics="runs/{model}/{task}/{method}/lr{lr}/seed{seed}/metrics.jsonl",
        dev_predictions="runs/{model}/{task}/{method}/lr{lr}/seed{seed}/dev_predictions.safetensors",
        artifact=directory("runs/{model}/{task}/{method}/lr{lr}/seed{seed}/artifact"),
    params:
        record=lambda w: {"model": w.model, "task": w.task, "method": w.method, "lr": float(w.lr), "seed": int(w.seed)},
        command=lambda w, output, threads: f"OMP_NUM_THREADS={threads} touch {output}",
    threads: 1
    resources:
        gpu=1,
    log:
        "logs/train/{model}/{task}/{method}/lr{lr}/seed{seed}.log",
    shell:
        "{params.command} > {log} 2>&1"


rule evaluate:
    input:
        "runs/{model}/{task}/{method}/lr{lr}/seed{seed}/artifact",
    output:
        "runs/{model}/{task}/{method}/lr{lr}/seed{seed}/test.json",
    log:
        "logs/evaluate/{model}/{task}/{method}/lr{lr}/seed{seed}.log",
    shell:
        "touch {output} > {log} 2>&1"


checkpoint select_round:
    input:
        expand("runs/{{model}}/{{task}}/{{method}}/lr{lr}/seed{seed}/summary.json", lr=LRS, seed=SEEDS),
    output:
        "select/{model}/{task}/{method}/round0.json",
    shell:
        "cat {input} > {output}"


rule select_final:
    input:
        round_decision,
    output:
        "select/{model}/{task}/{method}/final.json",
    shell:
        "cp {input} {output}"
"""


def dry_run(configfiles: list[Path], snakefile: Path = ROOT / "Snakefile") -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, jobs) of one `snakemake -n tables` in a fresh directory. The CPU time is
    this process's own (wait4), so two dry runs can go at once."""
    with tempfile.TemporaryDirectory() as workdir, tempfile.TemporaryFile("w+") as out:
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile)]
            + (["--configfile", *map(str, configfiles)] if configfiles else [])
            + ["-n", "tables", "--quiet", "all", "--cores", "4", "--directory", workdir],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        out.seek(0)
        output = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"snakemake -n tables failed for {configfiles}:\n{output[-2000:]}")
    total = [line.split() for line in output.splitlines() if line.startswith("total")]
    jobs = int(total[0][1]) if total else -1
    return usage.ru_utime + usage.ru_stime, wall, jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "dag_time.md")
    args = parser.parse_args()
    header = f"Machine: {machine(torch_threads=False)}; Snakemake {snakemake_version()}."
    with tempfile.TemporaryDirectory() as bare_dir:
        bare, featured = Path(bare_dir) / "bare.smk", Path(bare_dir) / "featured.smk"
        bare.write_text(BARE_SNAKEFILE)
        featured.write_text(FEATURED_SNAKEFILE)
        plans = {name: (files, ROOT / "Snakefile") for name, files in CONFIGS.items()}
        plans[FEATURED] = ([], featured)
        # Each plan runs at the same time as a bare run, one per core, and its ratio is taken against that
        # bare run: a shared VM's speed drifts by tens of percent within minutes, and both runs see the same.
        runs_of = {name: [] for name in [*plans, BARE]}
        ratios_of = {name: [] for name in plans}
        with ThreadPoolExecutor(max_workers=2) as pool:
            for _ in range(args.repeats):
                for name, (files, snakefile) in plans.items():
                    pair = pool.submit(dry_run, files, snakefile), pool.submit(dry_run, [], bare)
                    (cpu, wall, jobs), (bare_cpu, bare_wall, bare_jobs) = (job.result() for job in pair)
                    runs_of[name].append((cpu, wall, jobs))
                    runs_of[BARE].append((bare_cpu, bare_wall, bare_jobs))
                    ratios_of[name].append((cpu / jobs) / (bare_cpu / bare_jobs))
    rows = []
    for name, runs in runs_of.items():
        cpu, wall = [r[0] for r in runs], [r[1] for r in runs]
        ratios = ratios_of.get(name)
        ratio = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})" if ratios else "1"
        rows.append(
            f"| {name} | {runs[0][2]:,} | {statistics.median(cpu):.1f} | {min(cpu):.1f}–{max(cpu):.1f} "
            f"| {statistics.median(wall):.1f} | {1000 * statistics.median(cpu) / runs[0][2]:.2f} | {ratio} |"
        )
        print(rows[-1], flush=True)
    ratio = statistics.median(ratios_of["config.yaml"])
    features = statistics.median(ratios_of[FEATURED])
    text = "\n".join(
        [
            "Time to plan the workflow: `snakemake -n tables --cores 4` in an empty directory (nothing trained; "
            f"the DAG of every job), {args.repeats} repeats per config, each at the same time as a dry run of "
            "the bare workflow (one per core); CPU and wall seconds of the snakemake process and the ratio of "
            "CPU seconds per job to the bare run beside it (bench/dag_time.py).",
            "",
            header,
            "",
            "| config | jobs | CPU s (median) | CPU s (range) | wall s (median) | CPU ms per job | x bare per job "
            "(median, range) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"Planning config.yaml costs {ratio:.2f}x the CPU time per job of the bare workflow (Snakemake's own "
            "floor for a DAG of this shape; target: at most 1.3x). The bare workflow with the project's rule "
            "features (a data job every run reads, logs, a directory artifact, a record and a command param, "
            f"threads and a gpu resource, a selection checkpoint per group) costs {features:.2f}x: that share is "
            "Snakemake's price for those features, the rest the project's larger DAG (more rules and files per "
            "job).",
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
