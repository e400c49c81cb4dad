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


def test_selection_on_dev_and_report_on_test():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=200)
    members_dev, members_test = [], []
    for seed in range(4):
        noise = np.random.default_rng(seed).normal(size=(200, 3)) * 1.5
        onehot = np.eye(3)[labels]
        members_dev.append(FakePredictions(onehot + noise, labels))
        members_test.append(FakePredictions(onehot + noise[::-1], labels))
    result = evaluate_ensembles(members_dev, TASK, members_test)
    assert result["members"] == 4
    assert set(result["methods"]) == {"majority", "logits", "probabilities"}
    best = max(result["methods"].values(), key=lambda r: r["dev"])["dev"]
    assert result["dev"] == best
    assert result["test"] == result["methods"][result["selected"]]["test"]
    # Averaging four noisy members beats the average member.
    assert result["methods"]["logits"]["dev"] > np.mean(result["single"]["dev"])
    assert len(result["single"]["test"]) == 4


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


def test_with_real_predictions_class(tmp_path):
    evaluation = pytest.importorskip("maskbert.evaluation")
    labels = np.array([0, 1, 1, 0])
    preds = []
    for i, logits in enumerate([[[2, 0], [0, 1], [1, 0], [2, 0]], [[1, 0], [0, 2], [0, 2], [0, 1]]]):
        p = evaluation.Predictions(logits=np.array(logits, dtype=np.float32), labels=labels)
        preds.append(p.save(tmp_path / f"m{i}.safetensors"))
    from maskbert.ensemble import evaluate_ensemble_files

    result = evaluate_ensemble_files(preds, TASK, preds)
    assert result["methods"]["logits"]["dev"] == pytest.approx(100.0)
