"""The workflow's config checks without Snakemake (reproduction.workflow_config): strings coerced to the
schema's types, schema and semantic problems naming the key, the sweeps' section, local fingerprints."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from workflow_runs import demo_config

from reproduction import workflow_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def test_default_config_sweeps_are_the_papers_and_valid():
    fig1, layer = CONFIG["sweeps"]["initial_sparsity"], CONFIG["sweeps"]["layerwise"]
    assert [round(100 * s) for s in fig1["sparsities"]] == [1, 3, 5] + list(range(10, 100, 5))
    assert fig1["learning_rate"] == 5e-5 and fig1["seeds"] == [1, 2, 3, 4]
    assert sorted(fig1["tasks"]) == ["cola", "mrpc", "rte", "sst2"] and sorted(layer["tasks"]) == [
        "cola",
        "mrpc",
        "rte",
    ]
    assert layer["sparsities"] == [0.05, 0.15] and len(layer["block_sets"]) == 9
    assert workflow_config.check_sweep_config(CONFIG) == []
    assert workflow_config.check_sweep_config(demo_config()) == []


def test_sweep_config_problems_name_the_key():
    cfg = copy.deepcopy(CONFIG)
    cfg["models"] = [MINILM]
    cfg["sweeps"]["layerwise"]["models"] = [MINILM]
    cfg["sweeps"]["layerwise"]["block_sets"] = ["0-5", "2-5", "2-3,4-5", "0-11", "none"]
    cfg["sweeps"]["initial_sparsity"]["sparsities"] = [0.05, 1.0, 0.05, 0]
    cfg["sweeps"]["initial_sparsity"]["tasks"] = ["rte", "no-such-task"]
    del cfg["learning_rates"]["finetuning"]
    problems = workflow_config.check_sweep_config(cfg)
    text = "\n".join(problems)
    assert (
        "config key 'sweeps.layerwise.block_sets.3': '0-11' for sentence-transformers/all-MiniLM-L6-v2 "
        "(6 blocks, 0-5)" in text
    )
    assert "config key 'sweeps.layerwise.block_sets.2': '2-3,4-5' is block set 1 again (2-5)" in text
    assert "config key 'sweeps.layerwise.block_sets.4': 'none' masks no block" in text
    assert "config key 'sweeps.initial_sparsity.sparsities.1': 1.0 is not a fraction" in text
    assert "config key 'sweeps.initial_sparsity.sparsities.2': 0.05 appears twice" in text
    assert "config key 'sweeps.initial_sparsity.sparsities.3': 0 is not a fraction" in text
    assert "config key 'sweeps.initial_sparsity.tasks.1': unknown task 'no-such-task'" in text
    assert (
        "config key 'learning_rates.finetuning': the layer-wise sweep (Table 7) needs the finetuning grid"
        in text
    )
    assert len(problems) == 8, problems
    # null leaves a sweep out; an unknown sweep is refused by name
    assert (
        workflow_config.check_sweep_config(
            {**CONFIG, "sweeps": {"layerwise": None, "initial_sparsity": None}}
        )
        == []
    )
    assert workflow_config.check_sweep_config({**CONFIG, "sweeps": {"depthwise": {}}}) == [
        "config key 'sweeps.depthwise': unknown sweep; expected one of initial_sparsity, layerwise"
    ]


# ------------------------------------------------------------------------------------------------------
# Schema, coercion and what the schema cannot say
# ------------------------------------------------------------------------------------------------------
def test_strings_are_coerced_to_the_schemas_types():
    """YAML reads 1e-5 as a string and --config hands nested values over as strings: both become numbers."""
    cfg = copy.deepcopy(CONFIG)
    cfg["seeds"] = ["1", "2"]
    cfg["learning_rates"]["masking"] = ["1e-5", "3e-4"]
    cfg["training"] = {"epochs": "3", "batch_size_per_task": {"mrpc": "16"}}
    workflow_config.validate_config(cfg)
    assert cfg["seeds"] == [1, 2] and cfg["learning_rates"]["masking"] == [1e-5, 3e-4]
    assert cfg["training"]["epochs"] == 3 and workflow_config.batch_size(cfg, "mrpc") == 16
    assert workflow_config.batch_size(cfg, "rte") == 32


def test_schema_problems_name_every_key():
    cfg = copy.deepcopy(CONFIG)
    cfg["seeds"] = ["one"]
    cfg["methods"] = ["masking", "dropout"]
    with pytest.raises(workflow_config.ConfigError) as error:
        workflow_config.validate_config(cfg)
    assert str(error.value).startswith("Invalid config (schemas/config.schema.yaml):\n")
    assert [p.split(":")[0] for p in error.value.problems] == [
        "config key 'methods.1'",
        "config key 'seeds.0'",
    ]


def test_semantic_problems_and_warnings_name_the_key():
    cfg = copy.deepcopy(CONFIG)
    cfg["data"]["sources"]["mrpc"] = {"source": "synthetic"}
    cfg["data"]["sources"]["trec"] = {"source": "local"}
    cfg["method_options"] = {"masking": {"masked_blocks": "2-14"}}
    del cfg["learning_rates"]["finetuning"]
    cfg["learning_rates"]["overrides"] = [{"method": "bitfit", "values": [1e-3]}]
    problems, warnings = workflow_config.check_semantics(cfg)
    assert (
        "config key 'data.sources.mrpc.source': task 'mrpc' has no source 'synthetic'; it supports: hub, local"
        in problems
    )
    assert "config key 'learning_rates.finetuning': a grid is needed for method 'finetuning'" in problems
    assert any(
        p.startswith(
            "config key 'method_options.masking.masked_blocks': \"2-14\": masked blocks [12, 13, 14]"
        )
        and p.endswith("(model bert-base-uncased)")
        for p in problems
    )
    assert any(
        w.startswith("config key 'data.sources.trec': task 'trec' is read from local files only")
        for w in warnings
    )
    assert "config key 'learning_rates.overrides.0': method bitfit is not run" in warnings
    assert any("config key 'data.sources.sem.path': data/semeval2016 does not exist" in w for w in warnings)


def test_default_and_demo_configs_pass():
    for cfg in (copy.deepcopy(CONFIG), demo_config()):
        assert not [w for w in workflow_config.validate_config(cfg) if "does not exist" not in w]


def test_local_fingerprint_follows_the_files(tmp_path, monkeypatch):
    """Only a local source has one; it changes when a file's size or mtime does, not when nothing changes."""
    cfg = copy.deepcopy(CONFIG)
    assert workflow_config.local_fingerprint(cfg, "mrpc") is None  # hub
    folder = tmp_path / "trec"
    folder.mkdir()
    (folder / "train_5500.label").write_text("DESC:manner How did serfdom develop ?\n")
    cfg["data"]["sources"]["trec"] = {"source": "local", "path": str(tmp_path)}
    first = workflow_config.local_fingerprint(cfg, "trec")
    assert first.startswith("1 files, sha256 ") and workflow_config.local_fingerprint(cfg, "trec") == first
    (folder / "train_5500.label").write_text("DESC:manner How did serfdom develop in Russia ?\n")
    assert workflow_config.local_fingerprint(cfg, "trec") != first
    cfg["data"]["sources"]["trec"]["path"] = str(tmp_path / "missing")
    assert workflow_config.local_fingerprint(cfg, "trec") is None


# ------------------------------------------------------------------------------------------------------
# The analyses: narrowed to the main grid
# ------------------------------------------------------------------------------------------------------
def test_analyses_are_narrowed_to_the_main_grid():
    """A narrower grid (one model, two tasks, two seeds) leaves out what it lacks, naming the key; an analysis
    with nothing left leaves the tables target."""
    cfg = copy.deepcopy(CONFIG)
    cfg.update(models=["bert-base-uncased"], tasks=["mrpc", "sst2"], seeds=[1, 2])
    problems, warnings, left_out = workflow_config.narrow_analyses(cfg)
    analyses = cfg["analyses"]
    assert problems == []
    assert analyses["figure6"]["models"] == ["bert-base-uncased"] and analyses["figure6"]["seeds"] == [1, 2]
    assert analyses["figure5"]["tasks"] == ["mrpc", "sst2"] and analyses["figure5"]["models"] == [
        "bert-base-uncased"
    ]
    assert (
        analyses["table3"]["train_tasks"] == ["sst2"]
        and analyses["table3"]["transfer"][0]["train_task"] == "sst2"
    )
    assert (
        "config key 'analyses.figure6.models': ['roberta-base'] not in the main grid's models; "
        in "\n".join(warnings)
    )
    assert left_out == []
    cfg["methods"] = ["masking"]
    cfg["analyses"] = copy.deepcopy(CONFIG["analyses"])
    assert workflow_config.narrow_analyses(cfg)[2] == ["table3", "figure4", "figure6", "figure7"]


def test_impossible_analyses_are_problems_naming_the_key():
    cfg = copy.deepcopy(CONFIG)
    cfg["analyses"]["figure4"]["task"] = "ner"
    cfg["analyses"]["table3"]["eval_tasks"] = ["sst2", "mrpc"]
    problems, _, _ = workflow_config.narrow_analyses(cfg)
    assert problems == [
        "config key 'analyses.table3': task 'mrpc' is not a single-text accuracy task",
        "config key 'analyses.figure4.task': 'ner' is a tagging task; Figure 4 needs one [CLS] vector and one "
        "label per example (single or pair)",
    ]
