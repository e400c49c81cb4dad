"""profiles/slurm, run through snakemake-executor-plugin-slurm against the stub Slurm commands in
tests/slurm_stubs/ (they run each submitted job on this machine and log every call): which rules are
submitted, with which resources, and that the workflow finishes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workflow_runs import job_counts, snakemake, stub_pythonpath

ROOT = Path(__file__).resolve().parents[1]
STUBS = ROOT / "tests" / "slurm_stubs"

# From profiles/slurm/config.yaml's set-resources: (runtime min, mem_mb, cpus_per_task, GPUs).
PROFILE_RESOURCES = {
    "prepare_data": ("120", "32000", "4", None),
    "train": ("1440", "32000", "4", "1"),
    "evaluate_test": ("120", "16000", "4", "1"),
}


def stub_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """The stubs first on PATH, then this interpreter's folder (its `python3` runs them)."""
    path = os.pathsep.join([str(STUBS), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path, "STUB_SLURM_DIR": str(state_dir), "PYTHONWARNINGS": "ignore", **extra}
    return stub_pythonpath(env)


def calls(state_dir: Path, command: str) -> list[list[str]]:
    path = state_dir / f"{command}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def option(argv: list[str], name: str) -> str | None:
    """The value of `name` in argv, given as `name value` or `name=value`; None when absent."""
    for i, arg in enumerate(argv):
        if arg == name:
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg[len(name) + 1 :]
    return None


def test_stub_sbatch_runs_the_job_and_sacct_reports_its_state(tmp_path):
    env = stub_env(tmp_path)

    def stub(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(argv, env=env, capture_output=True, text=True, check=check)

    submit = ["sbatch", "--parsable", "--job-name", "run1", "-A", "test", "-p", "test", "-D", str(tmp_path)]
    ok = stub(*submit, "--output", "logs/%j.log", "--wrap=touch done").stdout.strip()
    failed = stub(*submit, "--wrap=exit 3").stdout.strip()
    assert (tmp_path / "done").exists() and (tmp_path / "logs" / f"{ok}.log").exists()
    status = ["sacct", "-X", "--parsable2", "--noheader", "--format=JobIdRaw,State", "--name"]
    assert set(stub(*status, "run1").stdout.split()) == {f"{ok}|COMPLETED", f"{failed}|FAILED"}
    assert stub(*status, "run2").stdout.split() == []
    assert [option(argv, "--wrap") for argv in calls(tmp_path, "sbatch")] == ["touch done", "exit 3"]
    refused = stub("sbatch", "--parsable", "-p", "gpu", "--wrap=true", check=False)
    assert refused.returncode != 0 and "invalid partition" in refused.stderr


@pytest.mark.slow
def test_slurm_profile_submits_gpu_jobs_with_profile_resources_and_keeps_bookkeeping_local(tmp_path):
    # TREC has a test split, so evaluate_test (a GPU rule) is in the DAG as well as train.
    config = {
        "results": "res",
        "models": ["bert-base-uncased"],
        "tasks": ["trec"],
        "methods": ["masking", "finetuning"],
        "seeds": [1],
        "learning_rates": {"masking": [1.0e-4], "finetuning": [1.0e-5], "max_extensions": 0},
        "memory": {"models": ["bert-base-uncased"], "tasks": ["trec"]},
    }
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    state, workdir = tmp_path / "slurm", tmp_path / "run"
    state.mkdir()
    common = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--configfile",
        str(config_file),
        "--directory",
        str(workdir),
    ]
    proc = subprocess.run(
        [
            *common,
            "tables",
            "--profile",
            str(ROOT / "profiles" / "slurm"),
            "--default-resources",
            "slurm_partition=test",
            "slurm_account=test",
            "--slurm-init-seconds-before-status-checks",
            "1",
        ],  # the plugin waits 40 s by default
        cwd=ROOT,
        env=stub_env(state, MASKBERT_WORKFLOW_STUB="1"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]

    submitted: dict[str, list[list[str]]] = {}
    for argv in calls(state, "sbatch"):
        rule = option(argv, "--comment").removeprefix("rule_").split("_wildcards_")[0]
        submitted.setdefault(rule, []).append(argv)
    # Only the compute rules go to Slurm, once per job; selection, ensembles and tables are local rules.
    assert {rule: len(argvs) for rule, argvs in submitted.items()} == {
        "prepare_data": 1,
        "train": 2,
        "evaluate_test": 2,
    }
    for rule, argvs in submitted.items():
        runtime, mem_mb, cpus, gpus = PROFILE_RESOURCES[rule]
        for argv in argvs:
            assert option(argv, "-p") == "test" and option(argv, "-A") == "test", argv
            assert option(argv, "-t") == runtime and option(argv, "--mem") == mem_mb, argv
            assert option(argv, "--cpus-per-task") == cpus, argv
            assert option(argv, "--gpus") == gpus, argv
            assert option(argv, "--gres") is None, argv
            assert option(argv, "-D") == str(workdir), argv
            assert f"--target-jobs '{rule}:" in option(argv, "--wrap"), argv
    # Inside the allocation, the job step asks srun for the same GPU and CPUs.
    steps = calls(state, "srun")
    assert len(steps) == 5
    for step in steps:
        is_gpu_rule = any(arg.startswith(("train:", "evaluate_test:")) for arg in step)
        assert option(step, "--gpus") == ("1" if is_gpu_rule else None), step
        assert option(step, "--cpus-per-task") == "4", step
    jobs = [json.loads(p.read_text()) for p in (state / "jobs").glob("*.json")]
    assert len(jobs) == 5 and {job["state"] for job in jobs} == {"COMPLETED"}

    # The workflow finished: the tables exist and nothing is left to do.
    assert (workdir / "res" / "tables" / "table1_dev.csv").exists()
    assert (workdir / "res" / "tables" / "table2_table6_test_error.csv").exists()
    dry = subprocess.run(
        [*common, "tables", "--dry-run"],
        cwd=ROOT,
        env=stub_env(state),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout


def local_rules() -> set[str]:
    """The rules named in the workflow's `localrules:` blocks: they run where Snakemake runs."""
    names = set()
    for path in [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]:
        for block in re.findall(r"^localrules:\n((?:[ \t]+\w+,?\n)+)", path.read_text(), re.MULTILINE):
            names.update(re.findall(r"\w+", block))
    return names


def test_paper_grid_submits_the_number_of_slurm_jobs_docs_state(tmp_path):
    """Only GPU jobs and tokenization go to Slurm: selection, ensembles, tables and figures are local rules,
    and each (model, task, method, setting)'s test scoring of every seed is one job."""
    out = snakemake(
        "tables", "--configfile", str(ROOT / "config.yaml"), "--dry-run", "--directory", str(tmp_path)
    )
    counts = job_counts(out.stdout + out.stderr)
    local = local_rules()
    assert {
        "select_round",
        "select_lr",
        "ensemble",
        "table1_dev",
        "figure6",
        "methods_comparison_table",
    } <= local
    submitted = {rule: n for rule, n in counts.items() if rule != "total" and rule not in local}
    assert set(submitted) == {
        "prepare_data",
        "train",
        "evaluate_test",
        "table3_evaluate",
        "figure4_vectors",
        "figure6_paths",
        "figure7_bezier",
    }, submitted
    # One evaluate_test job per (model, task with a test split, method): 3 models x 5 tasks x 2 methods.
    assert submitted["evaluate_test"] == 3 * 5 * 2
    total = sum(submitted.values())
    assert total == 5495, submitted
    assert f"{total:,} Slurm jobs" in (ROOT / "docs" / "WORKFLOW.md").read_text()
