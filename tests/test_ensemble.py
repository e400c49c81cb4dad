"""Ensembles of seed runs: majority / summed logits / summed probabilities, picked on dev."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

from maskbert.ensemble import combine, error_rate, evaluate_ensembles, majority_vote, softmax

TASK = SimpleNamespace(name="toy", metric="accuracy")


@dataclass
class FakePredictions:
    logits: np.ndarray
    labels: np.ndarray

    def score(self, task, predicted_ids=None):
        ids = self.logits.argmax(-1) if predicted_ids is None else np.asarray(predicted_ids)
        return float((ids == self.labels).mean() * 100)


def test_three_methods_can_disagree():
    # Two members are mildly confident in class 0, one is very confident in class 1.
    a = np.array([[2.0, 0.0]])
    c = np.array([[0.0, 10.0]])
    assert combine([a, a, c], "majority").tolist() == [0]
    assert combine([a, a, c], "logits").tolist() == [1]  # 4 vs 10
    # probabilities: 2 * 0.88 for class 0 vs 2 * 0.12 + 0.99995 for class 1
    assert combine([a, a, c], "probabilities").tolist() == [0]


def test_majority_tie_break_is_order_independent():
    a = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    b = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 5.0]])
    # unit 0: one vote each for 0 and 1 -> larger summed probability (class 0, confident member) wins.
    assert majority_vote([a, b]).tolist() == majority_vote([b, a]).tolist()
    assert majority_vote([a, b])[0] == 0
    # Exact tie in votes and probabilities -> smaller id.
    x, y = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    assert majority_vote([x, y]).tolist() == [0] == majority_vote([y, x]).tolist()


def test_softmax_is_stable():
    p = softmax(np.array([[1000.0, 1000.0], [-1000.0, 0.0]]))
    assert np.allclose(p.sum(-1), 1.0) and np.allclose(p[0], 0.5)


def test_method_is_picked_on_dev_not_on_test():
    """Dev and test disagree on the best method: majority wins on dev, summed logits on test. The ensemble
    must report majority's test score (lower than what picking on test would give)."""
    a, c = np.array([[2.0, 0.0]]), np.array([[0.0, 10.0]])  # majority/probabilities -> 0, logits -> 1
    dev = [FakePredictions(x, np.array([0])) for x in (a, a, c)]
    test = [FakePredictions(x, np.array([1])) for x in (a, a, c)]
    result = evaluate_ensembles(dev, TASK, test)
    assert result["methods"]["logits"] == {"dev": 0.0, "test": 100.0}
    assert result["selected"] == "majority"  # ties with probabilities on dev: the earlier method
    assert (result["dev"], result["test"]) == (100.0, 0.0)
    assert result["single"] == {"dev": [100.0, 100.0, 0.0], "test": [0.0, 0.0, 100.0]}


def test_noisy_members_ensemble_beats_the_average_member():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=200)
    members = [
        FakePredictions(np.eye(3)[labels] + np.random.default_rng(seed).normal(size=(200, 3)) * 1.5, labels)
        for seed in range(4)
    ]
    result = evaluate_ensembles(members, TASK)
    assert result["members"] == 4 and set(result["methods"]) == {"majority", "logits", "probabilities"}
    assert result["methods"]["logits"]["dev"] > max(result["single"]["dev"])


def test_without_test_split_and_errors():
    labels = np.array([0, 1])
    m = FakePredictions(np.array([[1.0, 0.0], [0.0, 1.0]]), labels)
    result = evaluate_ensembles([m, m], TASK, None, methods=["logits"])
    assert result["test"] is None and result["dev"] == 100.0
    assert error_rate(97.5) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="unknown ensemble method"):
        evaluate_ensembles([m], TASK, methods=["vote"])
    other = FakePredictions(m.logits, np.array([1, 1]))
    with pytest.raises(ValueError, match="different units"):
        evaluate_ensembles([m, other], TASK)
    with pytest.raises(ValueError, match="shape"):
        combine([np.zeros((2, 2)), np.zeros((3, 2))], "logits")


def test_with_real_predictions_files(tmp_path):
    """Saved Predictions files, dev and test different: the method picked on dev is reported on test."""
    from maskbert.ensemble import evaluate_ensemble_files
    from maskbert.evaluation import Predictions

    a, c = [[2.0, 0.0], [0.0, 3.0]], [[0.0, 10.0], [0.0, 1.0]]
    paths = {}
    for split, labels in (("dev", [0, 1]), ("test", [1, 1])):
        paths[split] = [
            Predictions(logits=np.array(x, dtype=np.float32), labels=np.array(labels)).save(
                tmp_path / f"{split}{i}.safetensors"
            )
            for i, x in enumerate((a, a, c))
        ]
    result = evaluate_ensemble_files(paths["dev"], TASK, paths["test"])
    assert result["selected"] == "majority" and result["dev"] == 100.0
    assert result["test"] == 50.0 and result["methods"]["logits"]["test"] == 100.0
