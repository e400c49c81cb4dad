"""The analyses in the DAG (dry runs): their jobs are listed, and every run they read is a main-grid point."""

from __future__ import annotations

import re

import yaml
from workflow_runs import ROOT, demo_config, job_counts, snakemake

ANALYSIS_TARGETS = ("table3", "figure4", "figure5", "figure6", "figure7")


def dry_run(tmp_path, *targets, config=None):
    configfile = ROOT / "config.yaml"
    if config is not None:
        configfile = tmp_path / "config.yaml"
        configfile.write_text(yaml.safe_dump(config))
    return snakemake(
        "--configfile", str(configfile), "--directory", str(tmp_path), "--dry-run", *targets, check=False
    )


def train_wildcards(output: str) -> list[dict]:
    """The wildcards of every train job the dry run lists."""
    jobs = re.findall(r"rule train:\n(?:    .*\n)*?    wildcards: (.*)\n", output)
    return [dict(item.split("=", 1) for item in job.split(", ")) for job in jobs]


def test_tables_lists_the_analysis_jobs_and_no_training_outside_the_grid(tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    proc = dry_run(tmp_path, "tables")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    counts = job_counts(out)
    analyses = config["analyses"]
    f6, f7 = analyses["figure6"], analyses["figure7"]
    assert (
        counts["table3_evaluate"]
        == len(analyses["table3"]["models"]) * len(analyses["table3"]["train_tasks"]) * 2
    )
    assert counts["figure4_vectors"] == len(analyses["figure4"]["models"]) * len(analyses["figure4"]["seeds"])
    assert counts["figure6_paths"] == len(f6["models"]) * len(f6["tasks"]) * len(f6["seeds"]) == 16
    assert counts["figure7_bezier"] == len(f7["models"]) * len(f7["tasks"]) * len(f7["seeds"])
    assert all(counts[target] == 1 for target in ANALYSIS_TARGETS)
    # the analyses add no training job: the same config without them plans the same training
    without = {key: value for key, value in config.items() if key != "analyses"}
    (tmp_path / "without").mkdir()
    proc = dry_run(tmp_path / "without", "tables", config=without)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert job_counts(proc.stdout + proc.stderr)["train"] == counts["train"]
    # the analyses alone ask only for grid points: the grid's models, tasks, seeds and learning rates
    proc = dry_run(tmp_path, *ANALYSIS_TARGETS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = train_wildcards(proc.stdout + proc.stderr)
    lrs = {m: {repr(float(v)) for v in config["learning_rates"][m]} for m in ("masking", "finetuning")}
    assert jobs and all(
        j["model"] in {m.split("/")[-1] for m in config["models"]}
        and j["task"] in config["tasks"]
        and int(j["seed"]) in config["seeds"]
        for j in jobs
    )
    assert all(j["lr"] in lrs[j["method"]] or j["model"] != "bert-base-uncased" for j in jobs)
    assert {j["setting"] for j in jobs if j["method"] == "masking"} == {"blocks2-11_sparsity0.05"}


def test_an_analysis_outside_the_grid_is_narrowed_or_refused_naming_the_key(tmp_path):
    """Names outside the main grid are left out with a warning naming the key (a narrower grid narrows the
    analyses); an analysis left with nothing leaves `tables`; impossible requests are refused."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["analyses"]["figure6"]["tasks"] = ["mrpc", "imdb"]
    config["analyses"]["figure4"]["seeds"] = [9]
    proc = dry_run(tmp_path, "tables", config=config)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "config key 'analyses.figure6.tasks': ['imdb'] not in the main grid's tasks" in out
    assert "config key 'analyses.figure4.seeds': [9] not in the main grid's seeds" in out
    assert "config key 'analyses.figure4': nothing of the main grid to read" in out
    assert "figure4_tsne" not in out and "figure6_mode_connectivity" in out
    config["analyses"]["figure4"]["task"] = "ner"
    config["analyses"]["table3"]["transfer"] = [{"train_task": "mrpc", "eval_task": "imdb", "split": "test"}]
    proc = dry_run(tmp_path, "figure6", config=config)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'analyses.figure4.task': 'ner' is a tagging task" in out
    assert "config key 'analyses.table3.transfer': train_task 'mrpc' is not one of" in out
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["analyses"]["figure7"]["optimizer"] = "sgd"
    proc = dry_run(tmp_path, "figure7", config=config)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "analyses.figure7" in out and "optimizer" in out


def test_a_config_without_analyses_runs_none(tmp_path):
    config = {
        "results": "res",
        "models": ["bert-base-uncased"],
        "tasks": ["mrpc"],
        "methods": ["masking"],
        "seeds": [1],
        "learning_rates": {"masking": [1.0e-4], "overrides": []},
    }
    proc = dry_run(tmp_path, "tables", config=config)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts["train"] == 1 and not set(counts) & {*ANALYSIS_TARGETS, "table3_evaluate", "figure6_paths"}


def test_demo_config_lists_every_analysis(tmp_path):
    demo = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    assert demo["analyses"]["table3"]["eval_tasks"] == ["synth-sentiment", "synth-tweets"]
    proc = dry_run(tmp_path, *ANALYSIS_TARGETS, config=demo_config())
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts["table3_evaluate"] == 2 and counts["figure6_paths"] == counts["figure7_bezier"] == 1
