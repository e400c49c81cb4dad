"""The experiment grid (reproduction.grid): one enumeration of every setting, selection and training point
of the main grid, both sweeps and the methods comparison, every analysis job, and what each experiment adds
to the ones before it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from workflow_runs import demo_config

from reproduction import workflow_config
from reproduction.grid import Grid, Point, model_blocks, new_points
from reproduction.sweeps import canonical_blocks

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def counts(points):
    return {experiment: len(added) for experiment, added in new_points(points).items()}


def test_blocks_of_a_local_copy_come_from_its_config(tiny_model_dirs):
    """model_paths swaps in another checkpoint (here a 4-block BERT): block sets are checked against it and
    Figure 1 masks its every block."""
    cfg = demo_config()
    cfg["model_paths"] = {MINILM: tiny_model_dirs["bert"]}
    assert model_blocks(cfg, MINILM) == 4
    assert (
        "config key 'sweeps.layerwise.block_sets.0': '2-5' for sentence-transformers/all-MiniLM-L6-v2 "
        "(4 blocks, 0-3)" in "\n".join(workflow_config.check_sweep_config(cfg))
    )
    cfg["sweeps"]["layerwise"] = None
    grid = Grid(cfg)
    assert {grid.options(p.method, p.setting)["masked_blocks"] for p in grid.figure1} == {"0-3"}
    cfg["model_paths"] = {MINILM: str(Path(tiny_model_dirs["bert"]) / "missing-copy")}
    assert workflow_config.check_sweep_config(cfg)[0].startswith(
        "config key 'sweeps.initial_sparsity.models.0': cannot read the config of "
        "'sentence-transformers/all-MiniLM-L6-v2' ("
    )


def test_sweeps_share_points_with_the_main_grid():
    grid = Grid(CONFIG)
    points = grid.points()
    fig1, layer = CONFIG["sweeps"]["initial_sparsity"], CONFIG["sweeps"]["layerwise"]
    n_seeds, n_masking_lrs = len(CONFIG["seeds"]), len(CONFIG["learning_rates"]["masking"])
    assert len(points["main"]) == len(set(points["main"])) == 2212
    # Layer-wise: 9 block sets x 2 sparsities; 2-11 at 5% is the main grid's BERT masking setting, and
    # the finetuning row is the main grid's finetuning runs.
    masking = 3 * 9 * 2 * n_masking_lrs * n_seeds
    assert len([p for p in points["layerwise"] if p.method == "masking"]) == masking
    # Figure 1: 21 sparsities x 4 tasks x 4 seeds; at 5% and 15% on MRPC, RTE, CoLA, lr 5e-5 is a point of
    # the layer-wise 0-11 grid.
    assert len(points["initial_sparsity"]) == 21 * 4 * 4
    assert counts(points) == {
        "main": 2212,
        "layerwise": masking - 3 * n_masking_lrs * n_seeds,
        "initial_sparsity": 21 * 4 * 4 - 3 * 2 * 4,
        # 2 models x 5 tasks: BitFit's 6, LoRA's 5 and (IA)^3's 5 learning rates x 4 seeds (masking and
        # finetuning are the main grid's runs)
        "comparison": 2 * 5 * (6 + 5 + 5) * n_seeds,
        "analyses": 0,  # the analyses read main-grid runs only
    }
    shared = Point("bert-base-uncased", "mrpc", "masking", "blocks0-11_sparsity0.05", 5e-5, 1)
    assert shared in points["initial_sparsity"] and shared in points["layerwise"]
    masked = {(grid.options(p.method, p.setting)["masked_blocks"], p.lr) for p in points["initial_sparsity"]}
    assert masked == {("0-11", fig1["learning_rate"])}
    assert {
        grid.options(p.method, p.setting)["masked_blocks"]
        for p in points["layerwise"]
        if p.method == "masking"
    } == {canonical_blocks(b, 12) for b in layer["block_sets"]}
    # the layer-wise finetuning row is the main grid's finetuning selection, at its setting
    finetuning = {p for p in points["layerwise"] if p.method == "finetuning"}
    assert finetuning <= set(points["main"]) and len(finetuning) == 3 * 5 * n_seeds


def test_selections_and_settings_of_the_default_config():
    grid = Grid(CONFIG)
    # 3 models x 11 tasks x 2 methods, 3 tasks x 17 layer-wise masking settings beyond the main 2-11 at 5%,
    # and the comparison's 2 models x 5 tasks x BitFit, LoRA, (IA)^3
    assert len(grid.main) == 66 and len(grid.selections) == 66 + 3 * 17 + 2 * 5 * 3
    assert grid.selections[("bert-base-uncased", "mrpc", "masking", "blocks2-11_sparsity0.05")] == {
        "lrs": sorted(CONFIG["learning_rates"]["masking"]),
        "seeds": [1, 2, 3, 4],
    }
    # the options of each setting, resolved: MaskingConfig's defaults spelt out
    options = grid.options("masking", "blocks0-9_sparsity0.15")
    assert (options["masked_blocks"], options["initial_sparsity"]) == ("0-9", 0.15)
    assert grid.models == {
        "bert-base-uncased": "bert-base-uncased",
        "roberta-base": "roberta-base",
        "distilbert-base-uncased": "distilbert-base-uncased",
    }


def test_one_setting_whatever_its_spelling():
    """'02-11' is '2-11', and the default sparsity written out is the default: one setting, one run."""
    grid = Grid(CONFIG)
    main = grid.setting("bert-base-uncased", "masking")
    assert main == "blocks2-11_sparsity0.05"
    assert grid.setting("bert-base-uncased", "masking", {"masked_blocks": "02-11"}) == main
    assert (
        grid.setting("bert-base-uncased", "masking", {"masked_blocks": "2-5,6-11", "initial_sparsity": 0.05})
        == main
    )
    assert grid.setting("distilbert-base-uncased", "masking") == "blocks2-5_sparsity0.05"


def test_conflicting_requests_fail_naming_them():
    grid = Grid(CONFIG)
    with pytest.raises(ValueError, match=r"selection \('bert-base-uncased', 'mrpc', 'masking'.* two grids"):
        grid.add_selection("bert-base-uncased", "mrpc", "masking", "blocks2-11_sparsity0.05", lrs=[1e-3])
    with pytest.raises(ValueError, match="share the directory name 'bert-base-uncased'"):
        grid.register_model("someone/bert-base-uncased")
    cfg = copy.deepcopy(CONFIG)
    cfg["learning_rates"]["finetuning"] = [1e-5, 0.00001]
    with pytest.raises(
        ValueError, match=r"learning-rate grid of \(bert-base-uncased, mrpc, finetuning\) repeats"
    ):
        Grid(cfg)


def test_demo_sweeps_and_comparison_add_thirteen_runs():
    """The demo's layer-wise sweep reuses the main grid's MiniLM 2-5 runs; Figure 1 trains all three points;
    the comparison adds BitFit and LoRA (3 learning rates each) on one task and one seed."""
    assert counts(Grid(demo_config()).points()) == {
        "main": 16,
        "layerwise": 4,
        "initial_sparsity": 3,
        "comparison": 6,
        "analyses": 0,
    }


def test_comparison_and_analysis_jobs_of_the_default_config():
    grid = Grid(CONFIG)
    compared = CONFIG["comparison"]
    assert [(g.model, g.task, g.method) for g in grid.comparison] == [
        (m, t, method)
        for m in compared["models"]
        for t in compared["tasks"]
        for method in compared["methods"]
    ]
    main = set(grid.main)
    assert {g for g in grid.comparison if g.method in ("masking", "finetuning")} <= main
    # Table 3: 1 model x 2 training tasks x 2 methods; Figure 4: 2 models x SST-2 x 1 seed; Figure 5 one job
    # reading 11 tasks; Figure 6: 2 models x 2 tasks x 4 seeds; Figure 7: 2 models x MRPC x 1 seed
    assert {name: len(jobs) for name, jobs in grid.analyses.items()} == {
        "table3": 4,
        "figure4": 2,
        "figure5": 1,
        "figure6": 16,
        "figure7": 2,
    }
    (figure5,) = grid.analyses["figure5"]
    assert len(figure5.groups) == 11 and {g.method for g in figure5.groups} == {"masking"}
    assert all(set(job.groups) <= main for jobs in grid.analyses.values() for job in jobs)
    assert grid.analyses["figure6"][0].groups == (
        grid.main_group("bert-base-uncased", "mrpc", "finetuning"),
        grid.main_group("bert-base-uncased", "mrpc", "masking"),
    )


def test_analyses_are_narrowed_to_the_main_grid_without_changing_the_config():
    """A narrower main grid (here: RoBERTa only, seed 1) leaves the analyses its models and seeds, drops what
    has nothing left to read, and says so naming the key; the config itself is left as it was."""
    cfg = copy.deepcopy({**CONFIG, "models": ["roberta-base"], "seeds": [1]})
    before = copy.deepcopy(cfg["analyses"])
    grid = Grid(cfg)
    assert cfg["analyses"] == before
    assert set(grid.analyses) == {"figure4", "figure6", "figure7"}  # Table 3 and Figure 5 are BERT's
    assert {job.model for jobs in grid.analyses.values() for job in jobs} == {"roberta-base"}
    assert len(grid.analyses["figure6"]) == 2  # 2 tasks x seed 1
    assert any("'analyses.figure5.models'" in w for w in grid.analysis_warnings)


def test_a_new_sweep_value_adds_exactly_its_points():
    base = counts(Grid(CONFIG).points())
    cfg = copy.deepcopy(CONFIG)
    cfg["sweeps"]["initial_sparsity"]["sparsities"].append(0.97)
    cfg["sweeps"]["layerwise"]["block_sets"].append("10-11")
    added = counts(Grid(cfg).points())
    assert added["main"] == base["main"]
    assert added["initial_sparsity"] - base["initial_sparsity"] == 4 * 4  # tasks x seeds
    assert added["layerwise"] - base["layerwise"] == 3 * 2 * len(CONFIG["learning_rates"]["masking"]) * 4


def test_an_experiment_left_out_has_no_points():
    cfg = {
        **CONFIG,
        "sweeps": {"layerwise": None, "initial_sparsity": None},
        "comparison": None,
        "analyses": None,
    }
    grid = Grid(cfg)
    assert grid.layerwise == grid.figure1 == grid.comparison == [] and grid.analyses == {}
    assert list(grid.points()) == ["main"]
