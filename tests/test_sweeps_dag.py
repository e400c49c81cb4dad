"""The sweeps in the workflow's DAG (dry runs and stub runs, nothing trained): the union of the main grid and
both sweeps trains every point once, a new sweep value adds exactly its jobs, each target builds alone, and
an invalid sweep is refused before any job runs."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from workflow_runs import job_counts, snakemake

from maskbert.pretrained import num_blocks_of
from reproduction import sweeps
from reproduction.grid import Grid, new_points

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def train_runs(output: str) -> list[str]:
    """The run directory of every train job a dry run lists (its summary.json output's folder)."""
    return re.findall(r"output: (\S+/runs/\S+)/summary\.json", output)


def identity(run: str) -> tuple:
    """A run path read back into the point it trains, with blocks and numbers in one spelling each (a test
    may parse paths: it checks that no point is trained under two spellings)."""
    model, task, method, setting, lr, seed = run.split("/runs/", 1)[1].split("/")
    if method == "masking":
        match = re.fullmatch(r"blocks(.+)_sparsity(.+)", setting)
        setting = (sweeps.canonical_blocks(match[1], num_blocks_of(model)), float(match[2]))
    return model, task, method, setting, float(lr.removeprefix("lr")), int(seed.removeprefix("seed"))


def test_union_dag_trains_every_point_once(tmp_path):
    """The default config: main grid, Figure 1, Table 7 and the methods comparison in one DAG, as the grid
    enumerates them; a point two experiments need (the main grid's BERT 2-11 at 5%, its finetuning runs,
    Figure 1's 0-11 runs at 5e-5 and 5%/15%, the comparison's masking and finetuning runs) is one job."""
    proc = snakemake(
        "tables", "--configfile", str(ROOT / "config.yaml"), "--dry-run", "--directory", str(tmp_path)
    )
    out = proc.stdout + proc.stderr
    runs = train_runs(out)
    added = {experiment: len(new) for experiment, new in new_points(Grid(CONFIG).points()).items()}
    assert added == {
        "main": 2212,
        "layerwise": 2244,
        "initial_sparsity": 312,
        "comparison": 640,
        "analyses": 0,
    }
    assert job_counts(out)["train"] == len(runs) == len(set(runs)) == sum(added.values())
    assert len({identity(run) for run in runs}) == len(runs)
    counts = job_counts(out)
    assert counts["figure1_initial_sparsity"] == counts["figure2_table7_layerwise"] == 1
    # one selection per (task, block set, sparsity) beyond the main grid's 2-11 at 5%, finetuning shared;
    # the comparison's BitFit, LoRA and (IA)^3 per model and task
    main_groups = len(CONFIG["models"]) * len(CONFIG["tasks"]) * len(CONFIG["methods"])
    assert counts["select_lr"] == main_groups + 3 * (9 * 2 - 1) + 2 * 5 * 3


SMALL = {
    "results": "res",
    "models": ["bert-base-uncased"],
    "tasks": ["mrpc"],
    "methods": ["masking", "finetuning"],
    "seeds": [1],
    "learning_rates": {
        "masking": [5.0e-5, 1.0e-4],
        "finetuning": [1.0e-5],
        "overrides": [],
        "max_extensions": 0,
    },
    "method_options_by_model": {"bert-base-uncased": {"masking": {"masked_blocks": "2-11"}}},
    "memory": {"models": ["bert-base-uncased"], "tasks": ["mrpc"]},
    "sweeps": {
        "initial_sparsity": {
            "models": ["bert-base-uncased"],
            "tasks": ["mrpc"],
            "sparsities": [0.05, 0.5],
            "learning_rate": 5.0e-5,
            "seeds": [1],
        },
        "layerwise": {
            "models": ["bert-base-uncased"],
            "tasks": ["mrpc"],
            "block_sets": ["0-11", "2-11"],
            "sparsities": [0.05],
        },
    },
}


@pytest.fixture(scope="module")
def stubbed(tmp_path_factory):
    """SMALL run once with stubbed scripts (real Snakemake provenance, placeholder outputs); each test then
    dry-runs a changed config against it."""
    tmp_path = tmp_path_factory.mktemp("sweeps")

    def write(cfg) -> str:
        path = tmp_path / f"cfg-{abs(hash(repr(cfg)))}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return str(path)

    common = ["--directory", str(tmp_path), "--cores", "2"]
    snakemake("tables", "--configfile", write(SMALL), *common, env={"MASKBERT_WORKFLOW_STUB": "1"})
    runs = sorted(str(p.parent.relative_to(tmp_path)) for p in (tmp_path / "res/runs").rglob("summary.json"))
    # main: masking 2 rates + finetuning 1; layer-wise 0-11 at 5%: 2 rates (2-11 is the main grid's);
    # Figure 1: 50% (5% at 5e-5 is the layer-wise 0-11 run)
    assert len(runs) == 6, runs
    proc = snakemake("tables", "--configfile", write(SMALL), "--dry-run", *common)
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout
    return write, common


def test_a_new_sparsity_adds_exactly_its_runs(stubbed):
    write, common = stubbed
    cfg = copy.deepcopy(SMALL)
    cfg["sweeps"]["initial_sparsity"]["sparsities"].append(0.3)
    out = snakemake("tables", "--configfile", write(cfg), "--dry-run", *common)
    out = out.stdout + out.stderr
    assert train_runs(out) == ["res/runs/bert-base-uncased/mrpc/masking/blocks0-11_sparsity0.3/lr5e-05/seed1"]
    assert set(job_counts(out)) == {"train", "figure1_initial_sparsity", "tables", "total"}, out[-1500:]


def test_a_new_block_set_adds_exactly_its_runs_and_selection(stubbed):
    write, common = stubbed
    cfg = copy.deepcopy(SMALL)
    cfg["sweeps"]["layerwise"]["block_sets"].append("6-11")
    out = snakemake("tables", "--configfile", write(cfg), "--dry-run", *common)
    out = out.stdout + out.stderr
    assert sorted(train_runs(out)) == [
        f"res/runs/bert-base-uncased/mrpc/masking/blocks6-11_sparsity0.05/lr{lr}/seed1"
        for lr in ("0.0001", "5e-05")
    ]
    counts = job_counts(out)
    assert counts["select_round"] == counts["select_lr"] == counts["figure2_table7_layerwise"] == 1
    assert "figure1_initial_sparsity" not in counts and "table1_dev" not in counts


def test_each_sweep_target_builds_alone(tmp_path):
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(SMALL))
    common = ["--configfile", str(tmp_path / "small.yaml"), "--dry-run", "--directory", str(tmp_path)]
    proc = snakemake("figure1", *common)
    figure1 = job_counts(proc.stdout + proc.stderr)
    assert figure1 == {"prepare_data": 1, "train": 2, "figure1_initial_sparsity": 1, "figure1": 1, "total": 5}
    proc = snakemake("figure2", *common)
    figure2 = job_counts(proc.stdout + proc.stderr)
    assert figure2["train"] == 2 + 2 + 1  # 2-11 and 0-11 at two rates, finetuning at one
    assert figure2["select_lr"] == 3 and figure2["figure2_table7_layerwise"] == 1
    assert "figure1_initial_sparsity" not in figure2 and "table1_dev" not in figure2


def test_a_block_outside_the_model_is_refused_naming_the_key(tmp_path):
    cfg = copy.deepcopy(SMALL)
    cfg["models"] = [MINILM]
    cfg["method_options_by_model"] = {MINILM: {"masking": {"masked_blocks": "2-5"}}}
    cfg["memory"]["models"] = [MINILM]
    for sweep in cfg["sweeps"].values():
        sweep["models"] = [MINILM]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(
        "tables",
        "--configfile",
        str(tmp_path / "bad.yaml"),
        "--dry-run",
        "--directory",
        str(tmp_path),
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        "config key 'sweeps.layerwise.block_sets.0': '0-11' for sentence-transformers/all-MiniLM-L6-v2 "
        "(6 blocks, 0-5)" in out
    )
    assert "Job stats" not in out and not (tmp_path / "res").exists()


def test_sweeps_null_leaves_both_out(tmp_path):
    """`sweeps: null` in a config merged over config.yaml: the main grid alone, empty sweep targets."""
    cfg = {**SMALL, "sweeps": None}
    (tmp_path / "main.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(
        "tables", "--configfile", str(tmp_path / "main.yaml"), "--dry-run", "--directory", str(tmp_path)
    )
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts["train"] == 3 and "figure1_initial_sparsity" not in counts
    assert "figure2_table7_layerwise" not in counts


def test_demo_config_adds_seven_runs(tmp_path):
    (tmp_path / "no_comparison.yaml").write_text("comparison: null\n")  # the sweeps' points alone
    proc = snakemake(
        "tables",
        "--configfile",
        str(ROOT / "config.yaml"),
        str(ROOT / "config/demo.yaml"),
        str(tmp_path / "no_comparison.yaml"),
        "--dry-run",
        "--directory",
        str(tmp_path),
    )
    out = proc.stdout + proc.stderr
    runs = train_runs(out)
    assert job_counts(out)["train"] == len({identity(run) for run in runs}) == 16 + 7
    settings = {run.split("/")[-3] for run in runs if "/masking/" in run}
    assert settings == {
        "blocks2-5_sparsity0.05",
        "blocks0-5_sparsity0.05",
        "blocks0-3_sparsity0.05",
        "blocks0-5_sparsity0.2",
        "blocks0-5_sparsity0.6",
    }
