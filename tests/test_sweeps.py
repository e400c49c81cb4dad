"""The §5.1/§5.2 sweeps (reproduction.sweeps) on made-up runs and selections: config checks naming the key,
which training points each experiment adds, the Figure 1 numbers, Table 7 beside the paper's, both figures,
and the GPU-hour estimate."""

from __future__ import annotations

import copy
import math
from functools import partial
from pathlib import Path

import matplotlib.colors
import pandas as pd
import pytest
import yaml

from reproduction import report, sweeps
from reproduction.selection import configured_grid

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
PAPER = report.load_paper(ROOT / "resources/paper_results.csv")
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def demo_config():
    """config/demo.yaml merged over config.yaml as Snakemake merges --configfile (mappings merge)."""
    from snakemake.utils import update_config

    cfg = copy.deepcopy(CONFIG)
    update_config(cfg, yaml.safe_load((ROOT / "config/demo.yaml").read_text()))
    return cfg


def lr_grid_of(cfg):
    return partial(configured_grid, cfg["learning_rates"])


# ------------------------------------------------------------------------------------------------------
# Block sets and config checks
# ------------------------------------------------------------------------------------------------------
def test_block_sets_spelling_and_direction():
    assert sweeps.num_blocks_of("bert-base-uncased") == 12
    assert sweeps.num_blocks_of(MINILM) == 6
    assert sweeps.num_blocks_of("distilbert-base-uncased") == 6
    assert sweeps.canonical_blocks("02-11", 12) == "2-11" == sweeps.canonical_blocks("2-5,6-11", 12)
    assert sweeps.all_blocks(12) == "0-11"
    assert [sweeps.block_direction(b, 12) for b in ("0-11", "0-3", "8-11", "3-8", "0,2")] == [
        "all",
        "bottom-up",
        "top-down",
        None,
        None,
    ]
    with pytest.raises(ValueError, match="do not exist"):
        sweeps.canonical_blocks("0-11", 6)
    assert sweeps.layerwise_item("0-11", 0.05) == "blocks0-11_sparsity0.05"


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
    assert sweeps.check_sweep_config(CONFIG) == []
    assert sweeps.check_sweep_config(demo_config()) == []


def test_sweep_config_problems_name_the_key():
    cfg = copy.deepcopy(CONFIG)
    cfg["models"] = [MINILM]
    cfg["sweeps"]["layerwise"]["models"] = [MINILM]
    cfg["sweeps"]["layerwise"]["block_sets"] = ["0-5", "2-5", "2-3,4-5", "0-11", "none"]
    cfg["sweeps"]["initial_sparsity"]["sparsities"] = [0.05, 1.0, 0.05, 0]
    cfg["sweeps"]["initial_sparsity"]["tasks"] = ["rte", "no-such-task"]
    del cfg["learning_rates"]["finetuning"]
    problems = sweeps.check_sweep_config(cfg)
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
        sweeps.check_sweep_config({**CONFIG, "sweeps": {"layerwise": None, "initial_sparsity": None}}) == []
    )
    assert sweeps.check_sweep_config({**CONFIG, "sweeps": {"depthwise": {}}}) == [
        "config key 'sweeps.depthwise': unknown sweep; expected one of initial_sparsity, layerwise"
    ]


# ------------------------------------------------------------------------------------------------------
# Training points: what each experiment adds to the main grid
# ------------------------------------------------------------------------------------------------------
def test_blocks_of_a_local_copy_come_from_its_config(tiny_model_dirs):
    """model_paths swaps in another checkpoint (here a 4-block BERT): block sets are checked against it."""
    cfg = demo_config()
    cfg["model_paths"] = {MINILM: tiny_model_dirs["bert"]}
    assert sweeps.model_blocks(cfg, MINILM) == 4
    assert (
        "config key 'sweeps.layerwise.block_sets.0': '0-5' for sentence-transformers/all-MiniLM-L6-v2 "
        "(4 blocks, 0-3)" in "\n".join(sweeps.check_sweep_config(cfg))
    )
    assert {p.masked_blocks for p in sweeps.figure1_runs(cfg)} == {"0-3"}
    cfg["model_paths"] = {MINILM: str(Path(tiny_model_dirs["bert"]) / "missing-copy")}
    assert sweeps.check_sweep_config(cfg)[0].startswith(
        "config key 'sweeps.initial_sparsity.models.0': cannot read the config of "
        "'sentence-transformers/all-MiniLM-L6-v2' ("
    )


def test_sweeps_share_points_with_the_main_grid():
    points = sweeps.sweep_points(CONFIG, lr_grid_of(CONFIG))
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
    added = sweeps.new_points(points)
    assert added == {
        "main": 2212,
        "layerwise": masking - 3 * n_masking_lrs * n_seeds,
        "initial_sparsity": 21 * 4 * 4 - 3 * 2 * 4,
    }
    shared = sweeps.Point("bert-base-uncased", "mrpc", "masking", "0-11", 0.05, 5e-5, 1)
    assert shared in points["initial_sparsity"] and shared in points["layerwise"]
    assert {p.masked_blocks for p in points["initial_sparsity"]} == {"0-11"}
    assert {p.lr for p in points["initial_sparsity"]} == {fig1["learning_rate"]}
    assert {p.masked_blocks for p in points["layerwise"] if p.method == "masking"} == {
        sweeps.canonical_blocks(b, 12) for b in layer["block_sets"]
    }


def test_demo_sweeps_add_ten_runs():
    """The demo's sweeps reuse the main grid's MiniLM 2-5 runs and the layer-wise 0-5 run at 1e-3."""
    cfg = demo_config()
    assert sweeps.new_points(sweeps.sweep_points(cfg, lr_grid_of(cfg))) == {
        "main": 16,
        "layerwise": 8,
        "initial_sparsity": 2,
    }


def test_a_new_sweep_value_adds_exactly_its_points():
    base = sweeps.new_points(sweeps.sweep_points(CONFIG, lr_grid_of(CONFIG)))
    cfg = copy.deepcopy(CONFIG)
    cfg["sweeps"]["initial_sparsity"]["sparsities"].append(0.97)
    cfg["sweeps"]["layerwise"]["block_sets"].append("10-11")
    added = sweeps.new_points(sweeps.sweep_points(cfg, lr_grid_of(cfg)))
    assert added["main"] == base["main"]
    assert added["initial_sparsity"] - base["initial_sparsity"] == 4 * 4  # tasks x seeds
    assert added["layerwise"] - base["layerwise"] == 3 * 2 * len(CONFIG["learning_rates"]["masking"]) * 4


# ------------------------------------------------------------------------------------------------------
# Figure 1
# ------------------------------------------------------------------------------------------------------
def fig1_runs():
    scores = {
        ("mrpc", 0.05): [80.0, 84.0],
        ("mrpc", 0.5): [70.0, 71.0],
        ("cola", 0.05): [40.0, 50.0],
        ("cola", 0.5): [10.0, 12.0],
    }
    return [
        {
            "model": "bert-base-uncased",
            "task": task,
            "initial_sparsity": s,
            "seed": seed,
            "lr": 5e-5,
            "metric": "mcc" if task == "cola" else "accuracy",
            "dev_score": score,
        }
        for (task, s), values in scores.items()
        for seed, score in zip((1, 2), values)
    ]


def test_figure1_table_mean_std_and_files(tmp_path, drawn):
    table = sweeps.figure1_table(fig1_runs())
    data = table.data
    assert list(zip(data["task"], data["initial_sparsity"])) == [
        ("mrpc", 0.05),
        ("mrpc", 0.5),
        ("cola", 0.05),
        ("cola", 0.5),
    ]
    row = data.iloc[2]
    assert (
        row["ours_mean"] == 45.0 and row["ours_std"] == 5.0 and row["n_seeds"] == 2 and row["metric"] == "mcc"
    )
    assert (row["ours_min"], row["ours_max"]) == (40.0, 50.0)
    paths = report.write_table(table, [tmp_path / "f1.csv", tmp_path / "f1.md", tmp_path / "f1.tex"])
    assert pd.read_csv(paths[0])["ours_mean"].tolist() == [82.0, 70.5, 45.0, 11.0]
    md = paths[1].read_text()
    assert "| BERT | CoLA | mcc | 5 | 45.0 ± 5.0 |" in md and "5e-5" in md
    for path in sweeps.figure1(table, [tmp_path / "f1.png", tmp_path / "f1.pdf"]):
        assert path.stat().st_size > 1000
    (figure,) = drawn
    mrpc, cola = figure.axes[0].lines[0], figure.axes[1].lines[0]  # each panel: the mean line, then its bars
    assert list(mrpc.get_xdata()) == [5.0, 50.0] and list(mrpc.get_ydata()) == [82.0, 70.5]
    assert list(cola.get_ydata()) == [45.0, 11.0]
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".*"))  # written, then renamed


def test_figure1_refuses_a_run_given_twice():
    runs = fig1_runs()
    with pytest.raises(ValueError, match="given twice"):
        sweeps.figure1_table(runs + runs[:1])


# ------------------------------------------------------------------------------------------------------
# Table 7 and Figure 2
# ------------------------------------------------------------------------------------------------------
def selection(task, method, scores, blocks=None, sparsity=None, model="bert-base-uncased", lr=1e-3):
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    return {
        "model": model,
        "task": task,
        "method": method,
        "options": {"masked_blocks": blocks, "initial_sparsity": sparsity} if method == "masking" else {},
        "metric": "mcc" if task == "cola" else "accuracy",
        "best_lr": lr,
        "dev_mean": mean,
        "dev_std": std,
        "dev_scores": {str(i + 1): s for i, s in enumerate(scores)},
    }


def layerwise_selections():
    masking = [
        selection(task, "masking", [base + n / 2, base + n / 2 + 1], blocks, sparsity)
        for sparsity in (0.05, 0.15)
        for blocks, n in (("0-11", 12), ("2-11", 10), ("8-11", 4), ("0-9", 10), ("0-3", 4))
        for task, base in (("mrpc", 80.0), ("cola", 50.0))
    ]
    finetuning = [
        selection("mrpc", "finetuning", [86.0, 87.0]),
        selection("cola", "finetuning", [59.0, 61.0]),
    ]
    return masking, finetuning


def test_table7_ours_paper_diff_and_layout(tmp_path, drawn):
    masking, finetuning = layerwise_selections()
    table = sweeps.table7(masking, finetuning, {"bert-base-uncased": 12}, PAPER)
    data = table.data
    assert list(data["method"][:2]) == ["finetuning", "finetuning"] and len(data) == 2 + len(masking)
    ft = data[(data["method"] == "finetuning") & (data["task"] == "mrpc")].iloc[0]
    assert ft["ours_mean"] == 86.5 and ft["paper_mean"] == 86.1 and ft["diff"] == pytest.approx(0.4)
    row = data[
        (data["masked_blocks"] == "0-11") & (data["initial_sparsity"] == 0.15) & (data["task"] == "cola")
    ]
    row = row.iloc[0]
    assert (row["n_blocks"], row["direction"]) == (12, "all")
    assert row["ours_mean"] == 56.5 and row["paper_mean"] == 52.2 and row["paper_std"] == 2.7
    assert row["diff"] == pytest.approx(4.3)
    directions = dict(zip(data["masked_blocks"], data["direction"]))
    assert directions["8-11"] == "top-down" and directions["0-3"] == "bottom-up"
    paths = report.write_table(table, [tmp_path / "t7.csv", tmp_path / "t7.md", tmp_path / "t7.tex"])
    csv = pd.read_csv(paths[0])
    assert len(csv) == len(data) and set(csv.columns) >= {"ours_mean", "paper_mean", "diff", "lr", "n_blocks"}
    md = paths[1].read_text().splitlines()
    assert md[2].startswith(
        "| Model | Method | Blocks | Direction | Sparsity (%) | MRPC | MRPC (paper) | MRPC Δ |"
    )
    assert (
        "| BERT | Finetuning | – | – | – | 86.5 ± 0.5 | 86.1 ± 0.8 | +0.4 | 60.0 ± 1.0 | 59.6 ± 1.5 |"
        in md[4]
    )
    assert len(md) == 4 + 1 + 10  # caption, blank, header, rule; finetuning; 5 block sets x 2 sparsities
    assert r"$\pm$" in paths[2].read_text()
    for path in sweeps.figure2(table, [tmp_path / "f2.png", tmp_path / "f2.pdf"]):
        assert path.stat().st_size > 1000
    # Figure 2 draws Table 7's means: per panel (sparsity 5%, MRPC first) bottom-up in red and top-down in
    # blue as the paper's, both ending at the all-blocks point; the paper's dashed beside them.
    mrpc = drawn[0].axes[0]
    ours = [line for line in mrpc.lines if line.get_linestyle() == "-"]
    assert [matplotlib.colors.to_hex(line.get_color()) for line in ours] == ["#d62728", "#1f77b4"]
    (bottom_up, top_down) = ((list(line.get_xdata()), list(line.get_ydata())) for line in ours)
    assert bottom_up == ([4, 10, 12], [82.5, 85.5, 86.5])  # blocks 0-3, 0-9, 0-11: 80 + n/2 + 0.5
    assert top_down == ([4, 10, 12], [82.5, 85.5, 86.5])


def test_table7_other_models_have_no_paper_numbers():
    masking = [selection("synth-sentiment", "masking", [90.0, 92.0], "0-3", 0.05, model=MINILM)]
    table = sweeps.table7(masking, [], {MINILM: 6}, PAPER)
    row = table.data.iloc[0]
    assert row["direction"] == "bottom-up" and pd.isna(row["paper_mean"]) and pd.isna(row["diff"])
    with pytest.raises(ValueError, match="given twice"):
        sweeps.table7(masking * 2, [], {MINILM: 6}, PAPER)


def test_table7_transcription():
    """resources/paper_results.csv holds the paper's Table 7 in percent: 19 settings x 3 tasks x mean/std."""
    t7 = PAPER[PAPER["table"] == "7"]
    assert len(t7) == 19 * 3 * 2 and set(t7["task"]) == {"mrpc", "rte", "cola"}
    value = report.paper_value
    assert (
        value(
            PAPER,
            "dev_mean",
            table="7",
            model="bert-base-uncased",
            method="masking",
            task="rte",
            item="blocks4-11_sparsity0.05",
        )
        == 70.5
    )
    assert (
        value(
            PAPER,
            "dev_std",
            table="7",
            model="bert-base-uncased",
            method="masking",
            task="mrpc",
            item="blocks0-9_sparsity0.15",
        )
        == 5.2
    )
    assert (
        value(
            PAPER, "dev_mean", table="7", model="bert-base-uncased", method="finetuning", task="cola", item=""
        )
        == 59.6
    )
    items = {
        sweeps.layerwise_item(sweeps.canonical_blocks(b, 12), s)
        for b in CONFIG["sweeps"]["layerwise"]["block_sets"]
        for s in CONFIG["sweeps"]["layerwise"]["sparsities"]
    }
    assert items == set(t7.loc[t7["method"] == "masking", "item"])


# ------------------------------------------------------------------------------------------------------
# Cost
# ------------------------------------------------------------------------------------------------------
def test_run_gpu_seconds_counts_steps_and_dev_passes():
    step = sweeps.StepTime(0.064, 32, 128, "made up")
    # 100 train examples at batch 32: 4 steps/epoch; 60 dev examples at a third of 0.002 s each; 2 epochs.
    assert sweeps.run_gpu_seconds(100, 60, 32, 2, step) == pytest.approx(2 * (4 * 0.064 + 60 * 0.002 / 3))
    # batch 64: 2 steps, each twice as long
    assert sweeps.run_gpu_seconds(100, 0, 64, 1, step) == pytest.approx(2 * 0.128)


def test_gpu_hours_per_experiment_counts_only_new_jobs():
    points = sweeps.sweep_points(CONFIG, lr_grid_of(CONFIG))
    sizes = {"mrpc": (3668, 408), "rte": (2490, 277), "cola": (8551, 1043), "sst2": (67349, 872)}
    steps = {"bert-base-uncased": {32: sweeps.StepTime(0.06, 32, 128, "made up")}}
    only_sweeps = {k: v for k, v in points.items() if k != "main"}
    cost = sweeps.gpu_hours(only_sweeps, sizes, lambda task: 32, 10, steps).set_index("experiment")
    added = sweeps.new_points(only_sweeps)
    assert cost.loc["layerwise", "new_jobs"] == added["layerwise"]
    expected = (
        4 * 10 * (math.ceil(67349 / 32) * 0.06 + 872 * 0.06 / 32 / 3) / 3600
    )  # one SST-2 point, 4 seeds
    per_sparsity = cost.loc["initial_sparsity", "gpu_hours"] / 21
    assert expected < per_sparsity < 2 * expected
    # the main grid first: its points are not counted again, and it has models and tasks without a step/size
    with_main = sweeps.gpu_hours(points, sizes, lambda task: 32, 10, steps).set_index("experiment")
    assert math.isnan(with_main.loc["main", "gpu_hours"])
    assert with_main.loc["layerwise", "new_jobs"] == sweeps.new_points(points)["layerwise"] == 2244
    assert with_main.loc["layerwise", "gpu_hours"] < cost.loc["layerwise", "gpu_hours"]
