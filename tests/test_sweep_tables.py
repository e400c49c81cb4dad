"""Figure 1's numbers and Table 7 (reproduction.sweep_tables) on made-up runs and selections, beside the paper's,
and both figures (reproduction.figures)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.colors
import pandas as pd
import pytest

from reproduction import report
from reproduction.figures import figure1, figure2
from reproduction.sweep_tables import figure1_table, table7

ROOT = Path(__file__).resolve().parents[1]
PAPER = report.load_paper(ROOT / "resources/paper_results.csv")
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


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
    table = figure1_table(fig1_runs())
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
    for path in figure1(table, [tmp_path / "f1.png", tmp_path / "f1.pdf"]):
        assert path.stat().st_size > 1000
    (figure,) = drawn
    mrpc, cola = figure.axes[0].lines[0], figure.axes[1].lines[0]  # each panel: the mean line, then its bars
    assert list(mrpc.get_xdata()) == [5.0, 50.0] and list(mrpc.get_ydata()) == [82.0, 70.5]
    assert list(cola.get_ydata()) == [45.0, 11.0]
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".*"))  # written, then renamed


def test_figure1_refuses_a_run_given_twice():
    runs = fig1_runs()
    with pytest.raises(ValueError, match="given twice"):
        figure1_table(runs + runs[:1])


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
    table = table7(masking, finetuning, {"bert-base-uncased": 12}, PAPER)
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
    for path in figure2(table, [tmp_path / "f2.png", tmp_path / "f2.pdf"]):
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
    table = table7(masking, [], {MINILM: 6}, PAPER)
    row = table.data.iloc[0]
    assert row["direction"] == "bottom-up" and pd.isna(row["paper_mean"]) and pd.isna(row["diff"])
    with pytest.raises(ValueError, match="given twice"):
        table7(masking * 2, [], {MINILM: 6}, PAPER)
