"""The workflow on a real single-node Slurm (tests/slurm/start.sh: Debian's slurm-wlm with slurmdbd
accounting, started for this module, stopped by PID after it): tests/slurm/grid.yaml through
profiles/slurm, every job's resources read back from `sacct`, Table 1 and the runs' files equal to the
same grid's local run; a training job cancelled mid-epoch is resubmitted and resumes; a killed Snakemake
head is rerun without retraining what finished. Needs root and apt (CI has both; elsewhere skipped).
Time on a 2-core machine: bench/README.md, "The real-Slurm tests"."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from workflow_runs import snakemake

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SLURM = ROOT / "tests" / "slurm"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
RUNS = "res/runs"
TIMEOUT = 600  # seconds for one Snakemake call: a hang fails the test instead of stalling CI
# profiles/slurm/config.yaml's set-resources, as sacct reports them: (time limit, memory, CPUs).
PROFILE_RESOURCES = {"train": ("1-00:00:00", "32000M", "4"), "evaluate_test": ("02:00:00", "16000M", "4")}


def started_cluster(state: Path, *flags: str, env: dict | None = None):
    """Start a test cluster with tests/slurm/start.sh (skipping where it cannot run), yield its clients'
    environment (SLURM_CONF, PATH with its srun wrapper), and stop its daemons by PID afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root: tests/slurm/start.sh starts munged, MariaDB, slurmdbd, slurmctld, slurmd")
    if not (shutil.which("apt-get") or shutil.which("slurmctld")):
        pytest.skip("needs Debian's apt-get to install slurm-wlm (or slurm-wlm installed)")
    start = subprocess.run(
        [SLURM / "start.sh", state, *flags],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert start.returncode == 0, f"tests/slurm/start.sh {' '.join(flags)} failed:\n{start.stderr[-5000:]}"
    cluster_env = dict(line.split("=", 1) for line in start.stdout.splitlines() if "=" in line)
    try:
        yield {**os.environ, **cluster_env}
    finally:
        subprocess.run([SLURM / "stop.sh", state], timeout=120, check=False)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The test cluster, with accounting (MariaDB + slurmdbd)."""
    yield from started_cluster(tmp_path_factory.mktemp("slurm"))


@pytest.fixture(scope="module")
def grid(tiny_bert_with_tokenizer, tmp_path_factory) -> Path:
    config = yaml.safe_load((SLURM / "grid.yaml").read_text())
    config["model_paths"] = {MINILM: tiny_bert_with_tokenizer}
    path = tmp_path_factory.mktemp("grid") / "grid.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def local_run(grid, tmp_path_factory) -> Path:
    """The grid run on this machine (one thread per job, as the cluster runs below: the same arithmetic)."""
    folder = tmp_path_factory.mktemp("local")
    snakemake("tables", "--configfile", str(grid), "--directory", str(folder), "--cores", "2")
    return folder


def slurm_command(grid: Path, folder: Path) -> list[str]:
    """What a user types, with the test cluster's partition and account."""
    return [
        sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "tables",
        "--configfile", str(grid), "--directory", str(folder), "--profile", str(ROOT / "profiles/slurm"),
        "--default-resources", "slurm_partition=test", "slurm_account=test",
        "--slurm-init-seconds-before-status-checks", "2",  # the plugin waits 40 s by default
        # One thread per job (the profile's 4 oversubscribe a small CI machine's cores); the jobs still ask
        # Slurm for the profile's 4 CPUs.
        "--set-threads", "train=1", "evaluate_test=1",
    ]  # fmt: skip


@pytest.fixture
def heads():
    """Starts Snakemake heads; any still running when the test ends (a failure) is killed (it ignores
    SIGTERM), so no head outlives its test."""
    started = []

    def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
        proc = subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def finish(proc: subprocess.Popen, log: Path) -> None:
    try:
        proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"snakemake did not finish in {TIMEOUT} s:\n{log.read_text()[-5000:]}")
    assert proc.returncode == 0, log.read_text()[-5000:]


def wait_until(condition, what: str, proc: subprocess.Popen, log: Path, seconds: float = TIMEOUT):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"snakemake ended before {what}:\n{log.read_text()[-5000:]}")
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"no {what} after {seconds} s:\n{log.read_text()[-5000:]}")


def queued_train_jobs(env: dict) -> dict[str, str]:
    """{run's wildcards as the plugin writes them in the comment: job id} of the queued training jobs."""
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i|%k"], env=env, capture_output=True, text=True, check=True
    ).stdout
    return {
        comment: job
        for job, comment in (line.split("|", 1) for line in out.split())
        if "rule_train" in comment
    }


def accounting(env: dict) -> list[dict[str, str]]:
    fields = [
        "JobID",
        "Comment",
        "State",
        "Timelimit",
        "ReqMem",
        "ReqCPUS",
        "ReqTRES",
        "Partition",
        "Account",
    ]
    out = subprocess.run(
        ["sacct", "-X", "-a", "-P", "-n", "-S", "now-1hours", f"--format={','.join(fields)}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [dict(zip(fields, line.split("|"))) for line in out.splitlines()]


def run_files(folder: Path) -> dict[str, bytes]:
    """Every run's summary.json and artifact files, by path under the runs folder."""
    files = {}
    for path in sorted((folder / RUNS).rglob("*")):
        relative = path.relative_to(folder / RUNS)
        if path.is_file() and (path.name == "summary.json" or "artifact" in relative.parts):
            if path.name != ".snakemake_timestamp":
                files[relative.as_posix()] = path.read_bytes()
    return files


def table1(folder: Path) -> str:
    return (folder / "res/tables/table1_dev.csv").read_text()


def test_grid_through_the_profile_matches_the_local_run_and_a_cancelled_job_resumes(
    cluster, grid, local_run, heads, tmp_path
):
    folder, log = tmp_path / "slurm", tmp_path / "snakemake.log"
    proc = heads(slurm_command(grid, folder), cluster, log)
    # Cancel a masking run's job once its first epoch is recorded (it is then in epoch 2).
    masking = folder / RUNS / MINILM.split("/")[-1] / "synth-sentiment/masking"

    def first_epoch():
        for metrics in masking.glob("*/*/seed1/metrics.jsonl"):
            lines = metrics.read_text().splitlines()
            if lines and (metrics.parent / ".progress/checkpoint.pt").exists():
                return metrics, lines[0]
        return None

    metrics, epoch1 = wait_until(first_epoch, "first epoch of a masking run", proc, log)
    jobs = queued_train_jobs(cluster)
    (cancelled,) = [job for comment, job in jobs.items() if "_masking_" in comment and comment.endswith("_1")]
    subprocess.run(["scancel", cancelled], env=cluster, check=True)
    finish(proc, log)

    jobs = accounting(cluster)
    by_rule: dict[str, list[dict]] = {}
    for job in jobs:
        by_rule.setdefault(job["Comment"].removeprefix("rule_").split("_wildcards_")[0], []).append(job)
    # GPU rules went to Slurm with the profile's resources; the bookkeeping rules ran on the head node.
    assert set(by_rule) == {"prepare_data", "train", "evaluate_test"}, by_rule.keys()
    assert len(by_rule["train"]) == 4 + 1 and len(by_rule["evaluate_test"]) == 2  # + the resubmission
    for rule, (time_limit, memory, cpus) in PROFILE_RESOURCES.items():
        for job in by_rule[rule]:
            assert (job["Timelimit"], job["ReqMem"], job["ReqCPUS"]) == (time_limit, memory, cpus), job
            assert "gres/gpu=1" in job["ReqTRES"].split(","), job
            assert (job["Partition"], job["Account"]) == ("test", "test"), job
    states = {job["JobID"]: job["State"] for job in by_rule["train"]}
    assert states.pop(cancelled).startswith("CANCELLED") and set(states.values()) == {"COMPLETED"}, states
    # The resubmitted job resumed from the epoch-1 checkpoint: its epoch 1 is the cancelled job's (same
    # wall time), and its run is byte for byte the uninterrupted local one; so is every other run, and Table 1.
    assert metrics.read_text().splitlines()[0] == epoch1
    assert run_files(folder) == run_files(local_run)
    assert table1(folder) == table1(local_run)


def finished_train_runs(log: Path) -> set[str]:
    """The runs (summary.json paths) whose train job the Snakemake head has recorded as finished."""
    text = log.read_text()
    summaries = dict(
        re.findall(
            r"rule train:\n    input: \S+\n    output: (\S+/summary\.json),.*?\n    jobid: (\d+)", text, re.S
        )
    )
    outputs = {jobid: summary for summary, jobid in summaries.items()}
    return {outputs[jobid] for jobid in re.findall(r"Finished jobid: (\d+) \(Rule: train\)", text)}


def test_a_killed_head_is_rerun_without_retraining_finished_runs(cluster, grid, local_run, heads, tmp_path):
    folder, log = tmp_path / "slurm", tmp_path / "snakemake.log"
    command = slurm_command(grid, folder)
    # Two jobs at a time, so that some runs are finished while others still train when the head dies.
    proc = heads([*command, "--jobs", "2"], cluster, log)
    wait_until(
        lambda: finished_train_runs(log) and queued_train_jobs(cluster),
        "finished and running runs",
        proc,
        log,
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    finished = {run: (folder / run).stat().st_mtime_ns for run in finished_train_runs(log)}
    # The killed head's jobs stay in Slurm and its lock on the folder stays: a user cancels the jobs (or
    # lets them finish) and unlocks, then gives the same command again.
    orphans = list(queued_train_jobs(cluster).values())
    if orphans:
        subprocess.run(["scancel", *orphans], env=cluster, check=True)
    subprocess.run([*command, "--unlock"], env=cluster, capture_output=True, timeout=TIMEOUT, check=True)
    # A job may finish in Slurm after its head died: its run is complete on disk though no head recorded it.
    complete = {path: path.stat().st_mtime_ns for path in folder.glob("res/runs/**/summary.json")}
    assert {folder / run for run in finished} <= set(complete)
    rerun_log = tmp_path / "rerun.log"
    finish(heads(command, cluster, rerun_log), rerun_log)
    assert {path: path.stat().st_mtime_ns for path in complete} == complete  # not trained again
    assert rerun_log.read_text().count("rule train:") == 4 - len(complete)
    assert run_files(folder) == run_files(local_run)
    assert table1(folder) == table1(local_run)


@pytest.fixture(scope="module")
def cluster_without_accounting(tmp_path_factory):
    """A second test cluster, on its own ports, without slurmdbd: `sacct` has nothing to report."""
    state = tmp_path_factory.mktemp("slurm-no-accounting")
    yield from started_cluster(state, "--no-accounting", env={"SLURM_TEST_PORT": "16917"})


def test_without_accounting_the_profile_finishes(cluster_without_accounting, grid, heads, tmp_path):
    """The profile's squeue status works where sacct has nothing to say (the plugin's default would idle
    forever on 'No active jobs')."""
    folder, log = tmp_path / "slurm", tmp_path / "snakemake.log"
    assert (
        "accounting_storage/none"
        in subprocess.run(
            ["scontrol", "show", "config"], env=cluster_without_accounting, capture_output=True, text=True
        ).stdout
    )
    run = "res/runs/all-MiniLM-L6-v2/synth-sentiment/finetuning/full/lr0.001/seed1/summary.json"
    command = [arg if arg != "tables" else run for arg in slurm_command(grid, folder)]
    finish(heads(command, cluster_without_accounting, log), log)
    assert (folder / run).exists()
