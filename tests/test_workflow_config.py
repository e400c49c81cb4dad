"""The workflow config: the default is the paper's experiment; the schema refuses bad configs, naming the key,
before any job runs."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from workflow_runs import job_counts, snakemake

from reproduction.grid import configured_options
from reproduction.workflow_config import config_schema

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = config_schema()
DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())


def errors_of(config) -> list[tuple[str, str]]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [(".".join(map(str, e.absolute_path)), e.message) for e in validator.iter_errors(config)]


def merged(base: dict, over: dict) -> dict:
    """Snakemake's --configfile merge: mappings merge, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = (
            merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def test_schema_is_valid_and_shipped_configs_pass():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert errors_of(DEFAULT) == []
    for path in sorted((ROOT / "config").glob("*.yaml")):  # merged over config.yaml, as --configfile does
        assert errors_of(merged(DEFAULT, yaml.safe_load(path.read_text()))) == [], path


def test_default_config_is_the_papers_experiment():
    c = DEFAULT
    assert c["models"] == ["bert-base-uncased", "roberta-base", "distilbert-base-uncased"]
    assert c["tasks"] == ["mrpc", "sst2", "cola", "rte", "qnli", "sem", "trec", "ag", "pos", "ner", "swag"]
    assert set(c["methods"]) == {"masking", "finetuning"} and c["seeds"] == [1, 2, 3, 4]
    assert {1e-5, 3e-5, 5e-5, 7e-5, 9e-5} <= set(c["learning_rates"]["finetuning"])
    assert max(c["learning_rates"]["masking"]) == pytest.approx(1e-3)
    roberta = [o for o in c["learning_rates"]["overrides"] if o.get("model") == "roberta-base"]
    assert min(roberta[0]["values"]) == pytest.approx(7e-6)
    t = c["training"]
    assert (t["epochs"], t["patience"], t["batch_size"]) == (10, 2, 32)
    assert t["batch_size_per_task"] == {"ag": 128, "qnli": 128}
    assert c["data"]["max_length"] == 128
    # masking's options are its defaults, the paper's: 5% initial sparsity, block 2 to the last
    options = {m: configured_options(c, m, "masking") for m in c["models"]}
    assert {m: (o["masked_blocks"], o["initial_sparsity"]) for m, o in options.items()} == {
        "bert-base-uncased": ("2-11", 0.05),
        "roberta-base": ("2-11", 0.05),
        "distilbert-base-uncased": ("2-5", 0.05),
    }


def test_every_table4_optimum_is_in_its_grid():
    """The grids reach every learning rate that Table 4 reports as best (resources/paper_results.csv)."""
    import pandas as pd

    from reproduction.selection import configured_grid

    paper = pd.read_csv(ROOT / "resources/paper_results.csv", comment="#")
    lrs = DEFAULT["learning_rates"]
    for row in paper[paper["quantity"] == "best_lr"].itertuples():
        grid = configured_grid(lrs, row.model, row.task, row.method)
        assert any(abs(g - row.value) < 1e-12 for g in grid), (row.model, row.method, row.task, row.value)


def _set(config, dotted, value):
    config = copy.deepcopy(config)
    *parents, last = dotted.split(".")
    node = config
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if value is _DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return config


_DELETE = object()

BAD = [
    ("method_options", {"pruning": {}}, "method_options"),
    ("method_options_by_model", {"bert-large": {}}, "method_options_by_model"),
    ("method_modules", ["not a module"], "method_modules.0"),
    ("learning_rates.masking.0", 0, "learning_rates.masking.0"),
    ("learning_rates.finetuning.1", -3e-5, "learning_rates.finetuning.1"),
    ("seeds", [], "seeds"),
    ("tasks", ["mrpc", "squad"], "tasks.1"),
    ("models", ["bert-large-cased"], "models.0"),
    ("methods", ["masking", "pruning"], "methods.1"),
    ("training.epochs", 0, "training.epochs"),
    ("training.batch_size_per_task", {"agnews": 128}, "training.batch_size_per_task"),
    ("data.sources", {"trec": {"source": "local"}}, "data.sources.trec"),
    ("memory.models", [], "memory.models"),
    ("memory.tasks", [], "memory.tasks"),
    ("ensemble.methods", [], "ensemble.methods"),
    ("learning_rates.overrides.0.values", [], "learning_rates.overrides.0.values"),
]


@pytest.mark.parametrize(("key", "value", "named"), BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_schema_rejects_bad_values_naming_the_key(key, value, named):
    errors = errors_of(_set(DEFAULT, key, value))
    assert errors, f"{key}={value!r} was accepted"
    assert any(path == named or path.startswith(named) for path, _ in errors), errors


def test_schema_rejects_unknown_keys():
    for config, key in (
        (_set(DEFAULT, "epochs", 3), "epochs"),
        (_set(DEFAULT, "training.epoch", 3), "epoch"),
        (_set(DEFAULT, "learning_rates.overrides.0.lr", [1e-5]), "lr"),
    ):
        errors = errors_of(config)
        assert errors and any(f"'{key}'" in message for _, message in errors), errors


def _snakemake_with(tmp_path, config) -> subprocess.CompletedProcess:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    return snakemake(
        "--configfile", str(path), "--directory", str(tmp_path), "--dry-run", "--cores", "1", check=False
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("method_options.masking.initial_sparsity", 1.0),
        ("method_options_by_model.bert-base-uncased.masking.masked_blocks", "2-12"),
        ("method_options.finetuning.r", 8),
        ("seeds", []),
        ("training.epochz", 3),
        ("tasks", ["mrpc", "squad"]),
        ("memory.models", []),
    ],
)
def test_workflow_refuses_bad_config_before_any_job(tmp_path, key, value):
    config = _set({**copy.deepcopy(DEFAULT), "results": "res"}, key, value)
    proc = _snakemake_with(tmp_path, config)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Invalid config" in out
    if key.startswith("method_options"):  # the key names the method's option itself
        assert f"config key '{key}': " in out, out[-2000:]
    else:
        named = key.rsplit(".", 1)[-1] if key.endswith("epochz") else key
        assert named in out, out[-2000:]
    assert not (tmp_path / "res").exists()


def test_workflow_refuses_source_the_task_lacks(tmp_path):
    config = {
        **copy.deepcopy(DEFAULT),
        "results": "res",
        "data": {"sources": {"mrpc": {"source": "synthetic"}}},
    }
    proc = _snakemake_with(tmp_path, config)
    assert proc.returncode != 0
    assert "data.sources.mrpc.source" in proc.stdout + proc.stderr


def test_string_learning_rates_are_read_as_numbers(tmp_path):
    """YAML reads 1e-5 (no dot) as a string; the workflow takes it as the number it means."""
    config = {
        **copy.deepcopy(DEFAULT),
        "results": "res",
        "models": ["bert-base-uncased"],
        "tasks": ["mrpc"],
        "learning_rates": {"masking": ["1e-3"], "finetuning": ["5e-5"]},
        "comparison": None,
    }
    proc = _snakemake_with(tmp_path, config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "/lr0.001/" in proc.stdout and "/lr5e-05/" in proc.stdout


def test_schema_enums_agree_with_the_registries():
    """One source of truth: the schema's task, method and model names are exactly what the library knows."""
    from maskbert.data import TASKS
    from maskbert.methods import METHODS
    from maskbert.pretrained import BUNDLED_MINILM, SHIPPED_CONFIGS

    defs = SCHEMA["$defs"]
    assert sorted(defs["task"]["enum"]) == sorted(TASKS)
    assert sorted(defs["method"]["enum"]) == sorted(METHODS)
    shipped = {p.stem for p in SHIPPED_CONFIGS.glob("*.json")}
    assert sorted(defs["model"]["enum"]) == sorted(shipped | {BUNDLED_MINILM})


def _small(**changes):
    """The default config on one model and three tasks (a quicker start-up), with `changes` (dotted keys)."""
    config = {**copy.deepcopy(DEFAULT), "results": "res", "models": ["bert-base-uncased"]}
    config["tasks"] = ["mrpc", "sst2", "sem"]
    for key, value in changes.items():
        config = _set(config, key, value)
    return config


def _lines(proc) -> list[str]:
    return [line.strip() for line in (proc.stdout + proc.stderr).splitlines()]


SEMANTIC = [
    (
        {"tasks": ["mrpc", "imdb"]},
        ["config key 'tasks': task 'imdb' has no dev split to select a learning rate on"],
    ),
    (
        {  # one key against another, and tasks that cannot do what the analysis asks; reported together
            "analyses.table3.train_tasks": ["sst2"],
            "analyses.table3.eval_tasks": ["sst2", "ner"],
            "analyses.table3.transfer": [{"train_task": "sem", "eval_task": "imdb", "split": "test"}],
            "analyses.figure4.task": "ner",
        },
        [
            "config key 'analyses.table3': task 'ner' is not a single-text accuracy task",
            "config key 'analyses.table3.transfer': train_task 'sem' is not one of analyses.table3.train_tasks",
            "config key 'analyses.figure4.task': 'ner' is a tagging task",
        ],
    ),
]


@pytest.mark.parametrize(("changes", "messages"), SEMANTIC, ids=["tasks", "analyses"])
def test_workflow_refuses_what_the_schema_cannot_say_naming_the_key(tmp_path, changes, messages):
    """Semantic errors (a task's capabilities, one key against another) stop the run at start-up: one line
    each naming the key, nothing written."""
    proc = _snakemake_with(tmp_path, _small(**changes))
    lines = _lines(proc)
    assert proc.returncode != 0 and "Invalid config:" in lines
    for message in messages:
        assert any(line.startswith(message) for line in lines), (message, lines[-30:])
    assert not (tmp_path / "res").exists()


def test_names_outside_the_grid_are_warned_about_and_left_out(tmp_path):
    """An analysis or override naming what the main grid does not run is a warning naming the key (the run
    goes on); an analysis left with nothing to read leaves the tables target."""
    proc = _snakemake_with(
        tmp_path, {**_small(**{"analyses.figure7.tasks": ["rte"]}), "methods": ["masking"]}
    )
    lines = _lines(proc)
    assert proc.returncode == 0, lines[-30:]
    expected = [
        "config key 'analyses.figure6.models': ['roberta-base'] not in the main grid's models",
        "config key 'analyses.figure7.tasks': ['rte'] not in the main grid's tasks",
        "config key 'analyses.figure7': nothing of the main grid to read",
        "config key 'learning_rates.overrides.",
    ]
    for message in expected:
        assert any(line.startswith(message) for line in lines), (message, lines[-30:])
    assert any("method finetuning is not run" in line for line in lines)
    assert "figure7_bezier" not in job_counts(proc.stdout) and "figure5" in job_counts(proc.stdout)


def test_a_method_module_that_fails_to_import_is_named_with_its_own_error(tmp_path, monkeypatch):
    """config key 'method_modules': a module that raises on import (not only a missing one) gives one line
    naming the key, the module and the module's own error."""
    from reproduction.workflow_config import import_method_modules

    (tmp_path / "broken_methods.py").write_text("raise RuntimeError('no GPU here\\nsecond line')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError) as refused:
        import_method_modules(["broken_methods"])
    assert str(refused.value) == (
        "config key 'method_modules': cannot import 'broken_methods': RuntimeError: no GPU here"
    )
    with pytest.raises(ValueError, match="cannot import 'no_such_module': ModuleNotFoundError: No module"):
        import_method_modules(["no_such_module"])
