"""The analyses on real (tiny, one-epoch) runs: exact end points, regenerated initial masks, cross-task scores."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from maskbert.artifact import pack_mask, read_artifact, save_artifact
from maskbert.data import get_task, load_prepared, prepare
from maskbert.evaluation import Predictions
from maskbert.masking import binary_masks
from maskbert.methods import build_model, load_run_model
from maskbert.rundir import read_run
from maskbert.training import TrainConfig, train
from reproduction.analysis.connectivity import (
    CurveTraining,
    bezier_connectivity,
    curve_point,
    interpolate,
    mode_connectivity,
    train_curve,
)
from reproduction.analysis.generalization import cross_evaluate
from reproduction.analysis.masks import initial_masks, mask_dissimilarities, trained_masks
from reproduction.analysis.models import (
    WithParameters,
    effective_parameters,
    evaluate,
    load_pair,
    pretrained_model,
)
from reproduction.analysis.representations import cls_vectors, run_vectors

TASKS = ("synth-sentiment", "synth-tweets")


@pytest.fixture(scope="module")
def prepared(tiny_bert_with_tokenizer, tmp_path_factory):
    root = tmp_path_factory.mktemp("prepared")
    tasks = (*TASKS, "synth-ner")
    return {
        t: str(prepare(t, tiny_bert_with_tokenizer, source="synthetic", out_dir=root / t, max_length=32))
        for t in tasks
    }


@pytest.fixture(scope="module")
def runs(tiny_bert_with_tokenizer, prepared, tmp_path_factory):
    """(task, method, seed) -> run dir: both methods on both sentiment tasks with seed 1, masking with seed 2,
    and a masking run on the tagging task (another head, the same backbone masks)."""
    root = tmp_path_factory.mktemp("runs")
    wanted = [(t, m, 1) for t in TASKS for m in ("masking", "finetuning")]
    wanted += [("synth-sentiment", "masking", 2), ("synth-ner", "masking", 1)]
    out = {}
    for task, method, seed in wanted:
        directory = root / f"{task}-{method}-{seed}"
        train(
            TrainConfig(
                model=tiny_bert_with_tokenizer,
                task=task,
                method=method,
                seed=seed,
                lr=1e-2 if method == "masking" else 1e-3,
                out_dir=str(directory),
                epochs=1,
                batch_size=32,
                max_length=32,
                prepared_dir=prepared[task],
                device="cpu",
            )
        )
        out[task, method, seed] = directory
    return out


def _logits(model, prepared_task, split="dev"):
    return evaluate(model, prepared_task, split, batch_size=64, device="cpu").logits


# ---------------------------------------------------------------------------------------------- Figure 6
def test_line_ends_reproduce_both_models_dev_logits_exactly(runs, prepared):
    data = load_prepared(prepared["synth-sentiment"])
    ft_run, mask_run = runs["synth-sentiment", "finetuning", 1], runs["synth-sentiment", "masking", 1]
    network, masked = load_pair(ft_run, mask_run)
    finetuned = {n: p.detach() for n, p in network.named_parameters()}
    at_zero = _logits(WithParameters(network, interpolate(finetuned, masked, 0.0)), data)
    at_one = _logits(WithParameters(network, interpolate(finetuned, masked, 1.0)), data)
    assert np.array_equal(at_zero, Predictions.load(ft_run / "dev_predictions.safetensors").logits)
    assert np.array_equal(at_one, _logits(load_run_model(mask_run), data))
    assert np.array_equal(at_one, Predictions.load(mask_run / "dev_predictions.safetensors").logits)
    assert not np.array_equal(
        _logits(WithParameters(network, interpolate(finetuned, masked, 0.5)), data), at_zero
    )
    # the pretrained end is the start both runs shared: the seed's random classifier, no mask
    pretrained = effective_parameters(pretrained_model(ft_run))
    start = build_model(read_run(ft_run)["model"], get_task("synth-sentiment"), "finetuning", 1)
    assert np.array_equal(
        _logits(WithParameters(network, interpolate(pretrained, masked, 0.0)), data), _logits(start, data)
    )
    masked_model = load_run_model(mask_run)
    assert torch.equal(pretrained["classifier.weight"], masked_model.classifier.weight)


def test_mode_connectivity_rows(runs, prepared):
    data = load_prepared(prepared["synth-sentiment"])
    rows = mode_connectivity(
        runs["synth-sentiment", "finetuning", 1], runs["synth-sentiment", "masking", 1], data, points=3
    )
    assert [(r["path"], r["gamma"]) for r in rows[:3]] == [("finetuned→masked", g) for g in (0.0, 0.5, 1.0)]
    by = {(r["path"], r["gamma"]): r["score"] for r in rows}
    dev = {m: read_run_summary(runs["synth-sentiment", m, 1]) for m in ("finetuning", "masking")}
    assert by["finetuned→masked", 0.0] == by["pretrained→finetuned", 1.0] == dev["finetuning"]
    assert by["finetuned→masked", 1.0] == by["pretrained→masked", 1.0] == dev["masking"]
    assert by["pretrained→finetuned", 0.0] == by["pretrained→masked", 0.0]


def read_run_summary(run_dir):
    import json

    return json.loads((run_dir / "summary.json").read_text())["best_dev_score"]


def test_load_pair_refuses_runs_of_different_tasks(runs):
    with pytest.raises(ValueError, match="key 'task' differs"):
        load_pair(runs["synth-sentiment", "finetuning", 1], runs["synth-tweets", "masking", 1])


# ---------------------------------------------------------------------------------------------- Figure 7
def test_bezier_curve_ends_are_the_two_models_and_training_moves_the_middle(runs, prepared):
    data = load_prepared(prepared["synth-sentiment"])
    ft_run, mask_run = runs["synth-sentiment", "finetuning", 1], runs["synth-sentiment", "masking", 1]
    network, masked = load_pair(ft_run, mask_run)
    network.requires_grad_(False)
    finetuned = {n: p.detach() for n, p in network.named_parameters()}
    training = CurveTraining(epochs=1, lr=1e-3, batch_size=64, seed=7)
    middles, losses = train_curve(network, finetuned, masked, data, training)
    again, _ = train_curve(network, finetuned, masked, data, training)
    assert len(middles) == 3 and len(losses) == 1 and np.isfinite(losses[0])
    assert all(torch.equal(a[n], b[n]) for a, b in zip(middles, again) for n in a)  # deterministic per seed
    name = "bert.encoder.layer.3.output.dense.weight"
    assert not torch.allclose(middles[1][name], interpolate(finetuned, masked, 0.5)[name])
    controls = [finetuned, *middles, masked]
    assert np.array_equal(
        _logits(WithParameters(network, curve_point(controls, 0.0)), data),
        Predictions.load(ft_run / "dev_predictions.safetensors").logits,
    )
    assert np.array_equal(
        _logits(WithParameters(network, curve_point(controls, 1.0)), data),
        _logits(load_run_model(mask_run), data),
    )
    assert all(not p.requires_grad or p.grad is None for p in network.parameters())


def test_bezier_connectivity_reports_curve_and_line(runs, prepared):
    data = load_prepared(prepared["synth-sentiment"])
    result = bezier_connectivity(
        runs["synth-sentiment", "finetuning", 1],
        runs["synth-sentiment", "masking", 1],
        data,
        CurveTraining(epochs=1, batch_size=64),
        points=3,
    )
    assert result["t"] == [0.0, 0.5, 1.0] and len(result["curve"]) == len(result["line"]) == 3
    assert result["curve"][0] == result["line"][0] and result["curve"][-1] == result["line"][-1]


# ---------------------------------------------------------------------------------------------- Figure 5
def test_initial_masks_are_regenerated_and_shared_by_tasks_of_one_seed(runs, tiny_bert_with_tokenizer):
    metadata, trained = trained_masks(runs["synth-sentiment", "masking", 1] / "artifact" / "mask.safetensors")
    regenerated = initial_masks(metadata)
    fresh = build_model(tiny_bert_with_tokenizer, get_task("synth-sentiment"), "masking", 1)
    assert regenerated.keys() == trained.keys()
    assert all(np.array_equal(regenerated[n], pack_mask(m).numpy()) for n, m in binary_masks(fresh).items())
    assert any(not np.array_equal(regenerated[n], trained[n]) for n in trained)  # training changed masks
    ner_metadata, _ = trained_masks(runs["synth-ner", "masking", 1] / "artifact" / "mask.safetensors")
    ner_start = initial_masks(ner_metadata)
    backbone = [n for n in regenerated if ".layer." in n]
    assert backbone and all(np.array_equal(regenerated[n], ner_start[n]) for n in backbone)
    other_seed, _ = trained_masks(runs["synth-sentiment", "masking", 2] / "artifact" / "mask.safetensors")
    assert not np.array_equal(initial_masks(other_seed)[backbone[0]], regenerated[backbone[0]])


def test_mask_dissimilarities_over_tasks_and_seeds(runs):
    artifacts = {
        (t, s): runs[t, "masking", s] / "artifact" / "mask.safetensors"
        for t, s in (("synth-sentiment", 1), ("synth-tweets", 1), ("synth-ner", 1), ("synth-sentiment", 2))
    }
    scores = mask_dissimilarities(artifacts)
    assert set(scores["comparison"]) == {"tasks", "seeds"}
    assert set(scores["block"]) == {2, 3} and set(scores["layer_type"]) == {"K", "Q", "V", "AO", "I", "O"}
    tasks = scores[scores["comparison"] == "tasks"]
    assert len(tasks) == 3 * 12  # three pairs of tasks, 2 blocks x 6 layer types
    assert tasks["s"].between(0, 1).all() and tasks["s"].gt(0).any()
    seeds = scores[scores["comparison"] == "seeds"]
    assert set(zip(seeds["task1"], seeds["seed1"], seeds["seed2"])) == {("synth-sentiment", 1, 2)}
    same = dict(artifacts)
    same["synth-tweets", 1] = artifacts["synth-sentiment", 1]
    twin = mask_dissimilarities({k: v for k, v in same.items() if k[1] == 1 and k[0] != "synth-ner"})
    assert (twin["s"] == 0).all()
    with pytest.raises(ValueError, match="seed 1, listed as seed 2"):
        mask_dissimilarities(
            {
                ("synth-tweets", 2): artifacts["synth-tweets", 1],
                ("synth-sentiment", 2): artifacts["synth-sentiment", 2],
            }
        )


def test_mask_dissimilarities_read_coded_artifacts_like_1bit_ones(runs, tmp_path):
    """Figure 5 reads masks through the library's one loader: a coded (format 2) copy of a run's masks gives
    the same scores as its 1-bit artifact."""
    artifacts = {
        (t, 1): runs[t, "masking", 1] / "artifact" / "mask.safetensors"
        for t in ("synth-sentiment", "synth-ner")
    }
    metadata, _ = read_artifact(artifacts["synth-ner", 1])
    coded = save_artifact(
        load_run_model(runs["synth-ner", "masking", 1]),
        tmp_path / "coded.safetensors",
        base_model=metadata["base_model"],
        task=metadata["task"],
        coding="flips",
    )
    assert read_artifact(coded)[0]["mask_coding"] == "flips"
    key = ["block", "layer_type"]
    plain = mask_dissimilarities(artifacts).sort_values(key, ignore_index=True)
    mixed = mask_dissimilarities({**artifacts, ("synth-ner", 1): coded}).sort_values(key, ignore_index=True)
    assert len(plain) == 12 and plain["s"].gt(0).all()
    pd.testing.assert_frame_equal(plain, mixed)


# ---------------------------------------------------------------------------------------------- Table 3
def test_cross_evaluation_on_own_dev_matches_training_and_labels_are_matched_by_name(runs, prepared):
    run = runs["synth-sentiment", "masking", 1]
    own_data, tweets = load_prepared(prepared["synth-sentiment"]), load_prepared(prepared["synth-tweets"])
    own, other = cross_evaluate(run, [(own_data, "dev"), (tweets, "test")])
    assert own["accuracy"] == read_run_summary(run)
    labels = np.array(own_data.splits["dev"]["labels"])
    assert own["majority"] == pytest.approx(100 * max(labels.mean(), 1 - labels.mean()))
    assert own["improvement"] == pytest.approx(own["accuracy"] - own["majority"])
    assert other["eval_task"] == "synth-tweets" and other["split"] == "test" and other["examples"] == 200
    # a task naming its labels neg/pos (IMDB) needs the alias map, and with it scores the same
    imdb_like = SimpleNamespace(
        task=get_task("imdb"), splits=tweets.splits, pad_token_id=tweets.pad_token_id, path=tweets.path
    )
    with pytest.raises(ValueError, match=r"\['negative', 'positive'\] differ .*\['neg', 'pos'\]"):
        cross_evaluate(run, [(own_data, "dev"), (imdb_like, "test")])
    [aliased] = cross_evaluate(
        run, [(imdb_like, "test")], aliases={"imdb": {"neg": "negative", "pos": "positive"}}
    )
    assert aliased["accuracy"] == other["accuracy"] and aliased["eval_task"] == "imdb"
    with pytest.raises(ValueError, match="tagging"):
        cross_evaluate(run, [(load_prepared(prepared["synth-ner"]), "dev")])


# ---------------------------------------------------------------------------------------------- Figure 4
def test_cls_vectors_of_the_three_models(runs, prepared):
    data = load_prepared(prepared["synth-sentiment"])
    vectors = run_vectors(
        runs["synth-sentiment", "finetuning", 1], runs["synth-sentiment", "masking", 1], data
    )
    assert set(vectors) == {"pretrained", "finetuned", "masked"}
    assert all(v.shape == (200, 32) for v in vectors.values())
    assert not np.allclose(vectors["pretrained"], vectors["finetuned"])
    assert not np.allclose(vectors["pretrained"], vectors["masked"])
    model = load_run_model(runs["synth-sentiment", "masking", 1])
    first = data.splits["dev"].select(range(3))
    assert np.allclose(cls_vectors(model, first, data.pad_token_id), vectors["masked"][:3], atol=1e-5)
