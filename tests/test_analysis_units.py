"""The analyses' computations that need no trained run: s, label matching, Table 3, probe, t-SNE, figures."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from maskbert.artifact import pack_mask
from maskbert.data import get_task
from maskbert.data import synthetic as synth
from maskbert.data.synthetic import generate
from reproduction.analysis import plots
from reproduction.analysis.connectivity import bernstein, curve_point, evenly_spaced, interpolate
from reproduction.analysis.generalization import label_permutation, majority_baseline
from reproduction.analysis.masks import block_layer, dissimilarity
from reproduction.analysis.representations import probe_accuracy, tsne_2d
from reproduction.analysis.tables import (
    bezier_rows,
    figure4_table,
    figure5_table,
    figure6_table,
    figure7_table,
    table3,
)
from reproduction.report import load_paper

PAPER = load_paper(Path(__file__).resolve().parents[1] / "resources/paper_results.csv")


def packed(bits):
    return pack_mask(torch.tensor(bits, dtype=torch.bool)).numpy()


# ---------------------------------------------------------------------------------------------- Figure 5
def test_s_is_zero_for_identical_masks_and_one_for_disjoint_changes():
    rng = np.random.default_rng(0)
    start = rng.random(1000) < 0.95
    flip_a = np.zeros(1000, bool)
    flip_a[:30] = True
    flip_b = np.zeros(1000, bool)
    flip_b[500:540] = True
    a, b, init = packed(start ^ flip_a), packed(start ^ flip_b), packed(start)
    assert dissimilarity(a, a.copy(), init, init) == 0.0
    assert dissimilarity(a, b, init, init) == 1.0
    # overlapping changes: a flips 0-29, c flips 10-49; they differ on 0-9 and 30-49 (30 bits) of 30+40 changes
    flip_c = np.zeros(1000, bool)
    flip_c[10:50] = True
    assert dissimilarity(a, packed(start ^ flip_c), init, init) == pytest.approx(30 / 70)
    assert np.isnan(dissimilarity(init, init, init, init))


def test_block_layer_names_map_back_to_blocks_and_paper_layer_types():
    assert block_layer("bert.encoder.layer.11.output.dense", "bert") == (11, "O")
    assert block_layer("bert.encoder.layer.2.attention.output.dense", "bert") == (2, "AO")
    assert block_layer("roberta.encoder.layer.3.attention.self.query", "roberta") == (3, "Q")
    assert block_layer("distilbert.transformer.layer.4.ffn.lin2", "distilbert") == (4, "O")
    assert block_layer("bert.pooler.dense", "bert") is None and block_layer("classifier", "bert") is None


def test_figure5_table_averages_over_layer_types_per_block():
    rows = [
        {
            "comparison": c,
            "task1": "a",
            "task2": "b",
            "seed1": 1,
            "seed2": 1,
            "block": blk,
            "layer_type": lt,
            "s": s,
        }
        for c, blk, lt, s in [
            ("tasks", 2, "O", 0.2),
            ("tasks", 2, "K", 0.4),
            ("tasks", 3, "O", 0.9),
            ("seeds", 2, "O", 0.7),
            ("seeds", 3, "O", 0.8),
        ]
    ]
    table = figure5_table(pd.DataFrame(rows), "bert-base-uncased")
    assert list(table.data["block"]) == [2, 3]
    assert table.data["s_tasks"].tolist() == pytest.approx([0.3, 0.9])
    assert table.data["s_seeds"].tolist() == pytest.approx([0.7, 0.8])


# ---------------------------------------------------------------------------------------------- Table 3
def test_labels_are_matched_by_name_and_a_different_label_set_is_an_error():
    assert label_permutation(["negative", "positive"], ["positive", "negative"]).tolist() == [1, 0]
    assert label_permutation(
        ["negative", "positive"], ["neg", "pos"], {"neg": "negative", "pos": "positive"}
    ).tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"\['negative', 'positive'\] differ .* \['neg', 'pos'\]"):
        label_permutation(["negative", "positive"], ["neg", "pos"])
    with pytest.raises(ValueError, match="differ"):
        label_permutation(["negative", "positive"], ["negative", "neutral", "positive"])


def test_majority_baseline():
    assert majority_baseline(np.array([0, 1, 1, 1])) == 75.0
    with pytest.raises(ValueError):
        majority_baseline(np.array([], dtype=np.int64))


def test_table3_means_over_seeds_beside_the_papers_numbers(tmp_path):
    def record(method, train, evaluated, split, seed, accuracy, majority):
        return {
            "model": "bert-base-uncased",
            "method": method,
            "seed": seed,
            "train_task": train,
            "eval_task": evaluated,
            "split": split,
            "accuracy": accuracy,
            "majority": majority,
            "improvement": accuracy - majority,
        }

    records = [record("masking", "sst2", "sem", "dev", s, acc, 74.0) for s, acc in ((1, 60.0), (2, 62.0))]
    records += [record("finetuning", "sst2", "imdb", "test", 1, 85.0, 50.0)]
    records += [record("masking", "synth-sentiment", "synth-tweets", "dev", 1, 70.0, 53.0)]
    table = table3(records, PAPER)
    first, imdb, synthetic = (table.data.iloc[i] for i in range(3))
    assert first["ours"] == pytest.approx(-13.0) and first["ours_std"] == pytest.approx(
        np.std([-14, -12], ddof=0)
    )
    assert first["paper"] == -13.4 and first["diff"] == pytest.approx(0.4) and first["majority_paper"] == 74.4
    assert imdb["quantity"] == "accuracy" and imdb["ours"] == 85.0 and imdb["paper"] == 85.25
    assert np.isnan(synthetic["paper"]) and synthetic["ours"] == 17.0
    md = table.display.to_string()
    assert "-13.4" in md and "85.25" in md


# ---------------------------------------------------------------------------------------------- Figure 4
def test_probe_and_tsne_are_deterministic_for_a_seed_and_the_probe_measures_separability():
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 40)
    separable = rng.normal(size=(80, 16)) + 4.0 * labels[:, None]
    noise = rng.normal(size=(80, 16))
    assert np.array_equal(
        probe_accuracy(separable, labels, random_state=3), probe_accuracy(separable, labels, random_state=3)
    )
    assert probe_accuracy(separable, labels, random_state=3).mean() == 100.0
    assert probe_accuracy(noise, labels, random_state=3).mean() < 75.0
    first, again = tsne_2d(separable, random_state=5), tsne_2d(separable, random_state=5)
    assert first.shape == (80, 2) and np.array_equal(first, again)
    # the two well-separated clusters stay apart in 2-D (scikit-learn's default init is PCA, so the seed
    # mostly matters for ties; determinism is what is asserted above)
    centres = np.array([first[labels == k].mean(axis=0) for k in (0, 1)])
    assert np.linalg.norm(centres[0] - centres[1]) > 2 * first[labels == 0].std(axis=0).max()
    table = figure4_table(
        [{"model": "m", "task": "sst2", "seed": 1, "kind": "masked", "fold_scores": [90.0, 100.0]}]
    )
    assert table.data.loc[0, "probe_accuracy"] == 95.0


# ---------------------------------------------------------------------------------------------- Figures 6-7
def test_line_and_bezier_end_points_are_exact():
    gen = torch.Generator().manual_seed(0)
    start = {"w": torch.randn(50, generator=gen)}
    end = {"w": torch.randn(50, generator=gen)}
    assert torch.equal(interpolate(start, end, 0.0)["w"], start["w"])
    assert torch.equal(interpolate(start, end, 1.0)["w"], end["w"])
    assert evenly_spaced(21)[:3] == pytest.approx([0.0, 0.05, 0.1]) and len(evenly_spaced(21)) == 21
    middles = [{"w": torch.randn(50, generator=gen)} for _ in range(3)]
    controls = [start, *middles, end]
    assert torch.equal(curve_point(controls, 0.0)["w"], start["w"])
    assert torch.equal(curve_point(controls, 1.0)["w"], end["w"])
    assert sum(bernstein(0.3)) == pytest.approx(1.0)
    # middle points on the line make the curve the line
    on_line = [start, *[interpolate(start, end, i / 4) for i in (1, 2, 3)], end]
    assert torch.allclose(curve_point(on_line, 0.37)["w"], interpolate(start, end, 0.37)["w"], atol=1e-6)


def test_path_table_reports_ends_and_the_lowest_point_mean_over_seeds():
    rows = pd.DataFrame(
        [
            {
                "model": "bert-base-uncased",
                "task": "mrpc",
                "seed": seed,
                "path": "finetuned→masked",
                "gamma": g,
                "score": score,
            }
            for seed, scores in ((1, (80, 60, 90)), (2, (84, 70, 88)))
            for g, score in zip((0.0, 0.5, 1.0), scores)
        ]
    )
    row = figure6_table(rows).data.iloc[0]
    assert (row["start"], row["end"], row["min"], row["argmin_gamma"]) == (82.0, 89.0, 65.0, 0.5)
    assert row["drop"] == 17.0 and row["seeds"] == 2
    result = {"t": [0.0, 1.0], "curve": [80.0, 90.0], "line": [80.0, 90.0], "metric": "accuracy"}
    table = figure7_table(pd.DataFrame(bezier_rows(result, "m", "mrpc", 1)))
    assert list(table.data["path"]) == ["bezier", "line"] and (table.data["drop"] == 0).all()


def test_figures_draw_their_numbers(tmp_path, drawn):
    """Each figure is written (PNG, PDF), and what it draws is the numbers it is given: Figure 4's points
    per label, Figure 5's mean s per pair of tasks, Figures 6 and 7's mean over seeds with the min-max band."""
    rng = np.random.default_rng(0)
    panels = [
        {
            "model": "bert-base-uncased",
            "task": "sst2",
            "seed": 1,
            "kind": k,
            "points": rng.normal(size=(20, 2)),
            "labels": np.arange(20) % 2,
            "label_names": ["negative", "positive"],
            "probe": 80.0,
        }
        for k in ("pretrained", "finetuned", "masked")
    ]
    rows6 = pd.DataFrame(
        [
            {
                "model": "bert-base-uncased",
                "task": t,
                "seed": s,
                "path": p,
                "gamma": g,
                "score": 50 + 10 * g + 2 * s + (5 if t == "sst2" else 0) + i,
                "metric": "accuracy",
            }
            for t in ("mrpc", "sst2")
            for s in (1, 2)
            for i, p in enumerate(("finetuned→masked", "pretrained→finetuned", "pretrained→masked"))
            for g in (0.0, 0.5, 1.0)
        ]
    )
    rows7 = pd.DataFrame(
        [
            {
                "model": "bert-base-uncased",
                "task": "mrpc",
                "seed": 1,
                "path": p,
                "t": t,
                "score": 60.0 + (10 * t * (1 - t) if p == "line" else t),
                "metric": "accuracy",
            }
            for p in ("bezier", "line")
            for t in (0.0, 0.5, 1.0)
        ]
    )
    scores = pd.DataFrame(
        [
            {
                "comparison": "tasks",
                "task1": "sst2",
                "task2": "mrpc",
                "seed1": seed,
                "seed2": seed,
                "block": b,
                "layer_type": "O",
                "s": s,
            }
            for b, values in ((2, (0.2, 0.4)), (11, (0.6, 0.9)))
            for seed, s in zip((1, 2), values)
        ]
    )
    written = [
        *plots.figure4(panels, [tmp_path / "f4.png"]),
        *plots.figure5(scores, [tmp_path / "f5.png"], "bert"),
        *plots.figure6(rows6, [tmp_path / "f6.png", tmp_path / "f6.pdf"]),
        *plots.figure7(rows7, [tmp_path / "f7.png"]),
    ]
    assert all(p.stat().st_size > 1000 for p in written) and len(written) == 5
    assert not list(tmp_path.glob(".*"))
    f4, f5, f6, f7 = drawn
    negative = f4.axes[0].collections[0].get_offsets()  # pretrained panel, label 0
    assert np.array_equal(negative, panels[0]["points"][panels[0]["labels"] == 0])
    for ax, mean in zip(f5.axes[:2], (0.3, 0.75)):  # blocks 2 and 11 (their colour bars come after)
        grid = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
        assert grid[0, 1] == grid[1, 0] == pytest.approx(mean) and np.isnan(grid[0, 0])
    top_mrpc = f6.axes[0].lines[0]
    assert list(top_mrpc.get_xdata()) == [0.0, 0.5, 1.0]
    assert list(top_mrpc.get_ydata()) == pytest.approx([53.0, 58.0, 63.0])  # 50 + 10 g + mean(2, 4)
    band = f6.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(52.0) and band.max() == pytest.approx(64.0)  # seed 1 low, seed 2 high
    bottom_sst2 = [line.get_ydata() for line in f6.axes[3].lines]  # pretrained→finetuned, pretrained→masked
    assert [list(y) for y in bottom_sst2] == [
        pytest.approx([59.0, 64.0, 69.0]),
        pytest.approx([60.0, 65.0, 70.0]),
    ]
    bezier, line = (list(line.get_ydata()) for line in f7.axes[0].lines)
    assert bezier == pytest.approx([60.0, 60.5, 61.0]) and line == pytest.approx([60.0, 62.5, 60.0])


# ---------------------------------------------------------------------------------------------- synth-tweets
def test_synth_tweets_is_a_sentiment_task_with_its_own_vocabulary():
    spec, other = get_task("synth-tweets"), get_task("synth-sentiment")
    assert spec.label_names == other.label_names and spec.kind == other.kind == "single"
    first, again = generate("synth-tweets", 3), generate("synth-tweets", 3)
    assert first == again and first != generate("synth-tweets", 4)
    assert {len(v) for v in first.values()} == set(synth.SIZES.values())
    content = {*synth.NOUNS, *synth.POSITIVE, *synth.NEGATIVE}
    tweet_words = {w for e in (*first["train"], *first["dev"]) for w in e["text"].split()}
    assert not content & tweet_words
    labels = [e["label"] for e in first["dev"]]
    assert 0.35 < labels.count("positive") / len(labels) < 0.65
