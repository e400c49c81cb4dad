"""What a finished grid reruns after an edit (dry runs against a run with stubbed jobs and real provenance):
a comment in any workflow script retrains nothing, an analysis option retrains nothing. (A new seed and a
changed epoch count: tests/test_workflow_dag.py.) The train rule's command line passes every setting of
the config to `maskbert train`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workflow_runs import job_counts, stub_pythonpath

ROOT = Path(__file__).resolve().parents[1]
# What Snakemake reads of the workflow; maskbert and reproduction come from the installed checkout.
WORKFLOW_PARTS = ("Snakefile", "config.yaml", "rules", "workflow_scripts", "resources", "schemas")

CONFIG = {
    "results": "res",
    "models": ["bert-base-uncased"],
    "tasks": ["mrpc"],
    "methods": ["masking", "finetuning"],
    "seeds": [1],
    "learning_rates": {"masking": [1.0e-4], "finetuning": [1.0e-5], "overrides": [], "max_extensions": 0},
    "training": {"epochs": 7, "patience": 3, "group_by_length": True, "precision": "bf16"},
    "data": {"max_length": 96},
    "memory": {"models": ["bert-base-uncased"], "tasks": ["mrpc"]},
    "comparison": {"models": ["bert-base-uncased"], "tasks": ["mrpc"], "methods": ["masking", "finetuning"]},
}


class Workflow:
    """A copy of the workflow (its scripts may be edited) and a finished stub run of CONFIG in its folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        for part in WORKFLOW_PARTS:
            source, target = ROOT / part, folder / "workflow" / part
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        self.scripts = folder / "workflow" / "workflow_scripts"

    def snakemake(self, config: dict, *args: str, stub: bool = False) -> str:
        path = self.folder / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        env = stub_pythonpath({**os.environ, "PYTHONWARNINGS": "ignore"})
        if stub:
            env["MASKBERT_WORKFLOW_STUB"] = "1"
        command = [sys.executable, "-m", "snakemake", "--snakefile", str(self.folder / "workflow/Snakefile")]
        proc = subprocess.run(
            [*command, "tables", "--configfile", str(path), "--directory", str(self.folder), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-5000:]
        return out

    def planned(self, config: dict) -> dict[str, int]:
        out = self.snakemake(config, "--dry-run")
        return {} if "Nothing to be done" in out else job_counts(out)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Workflow:
    workflow = Workflow(tmp_path_factory.mktemp("reruns"))
    workflow.snakemake(CONFIG, "--cores", "2", stub=True)
    assert workflow.planned(CONFIG) == {}
    return workflow


def test_train_command_passes_every_setting_of_the_config(finished):
    (run_json,) = (finished.folder / "res/runs/bert-base-uncased/mrpc/masking").glob(
        "*/lr0.0001/seed1/run.json"
    )
    given = json.loads(run_json.read_text())  # the TrainConfig `maskbert train` built from its command line
    assert {key: given[key] for key in ("model", "task", "method", "seed", "lr")} == {
        "model": "bert-base-uncased",
        "task": "mrpc",
        "method": "masking",
        "seed": 1,
        "lr": 1.0e-4,
    }
    training = CONFIG["training"]
    assert (given["epochs"], given["patience"]) == (training["epochs"], training["patience"])
    assert (given["group_by_length"], given["precision"]) == (True, "bf16")
    assert given["max_length"] == 96 and given["batch_size"] == 32
    assert given["options"]["initial_sparsity"] == 0.05 and given["options"]["masked_blocks"] == "2-11"
    assert given["out_dir"] == str(run_json.parent.relative_to(finished.folder))
    assert given["prepared_dir"] == "res/data/bert-base-uncased/mrpc"


def test_a_comment_in_every_workflow_script_plans_no_training(finished):
    scripts = sorted(finished.scripts.glob("*.py"))
    originals = {path: (path.read_text(), path.stat()) for path in scripts}
    try:
        for path in scripts:
            path.write_text(originals[path][0] + "# a comment, as after a `git pull`\n")
        planned = finished.planned(CONFIG)
    finally:
        for path, (text, stat) in originals.items():
            path.write_text(text)
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "train" not in planned, planned
    # The edit is seen: the script rules that read the runs (selection, tables) run again.
    assert planned["select_lr"] == 2 and planned["table1_dev"] == 1, planned


def test_an_analysis_option_plans_no_training(finished):
    analyses = yaml.safe_load((ROOT / "config.yaml").read_text())["analyses"]
    figure7 = {**analyses["figure7"], "epochs": analyses["figure7"]["epochs"] + 1}
    planned = finished.planned({**CONFIG, "analyses": {**analyses, "figure7": figure7}})
    assert "train" not in planned and planned.get("figure7_bezier") == 1, planned
