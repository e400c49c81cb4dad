"""Running the workflow from tests: Snakemake in a subprocess, and reading its dry-run job table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUB_PATH = Path(__file__).resolve().parent / "workflow_stub"  # MASKBERT_WORKFLOW_STUB=1 stubs the scripts


def demo_config() -> dict:
    """config/demo.yaml merged over config.yaml as Snakemake merges --configfile (mappings merge)."""
    import yaml
    from snakemake.utils import update_config

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    update_config(config, yaml.safe_load((ROOT / "config/demo.yaml").read_text()))
    return config


def stub_pythonpath(env: dict) -> dict:
    """`env` with tests/workflow_stub on PYTHONPATH: its sitecustomize stubs the workflow scripts when the
    environment sets MASKBERT_WORKFLOW_STUB=1, and does nothing otherwise."""
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(STUB_PATH), env.get("PYTHONPATH")]))}


def snakemake(*args, cwd=ROOT, check=True, env=None) -> subprocess.CompletedProcess:
    """`snakemake --snakefile <repo>/Snakefile ARGS`; with check, a failure raises with its output's end."""
    env = stub_pythonpath({**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})})
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run, as {rule: count}."""
    counts = {}
    for line in output.split("Job stats:", 1)[1].splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts
