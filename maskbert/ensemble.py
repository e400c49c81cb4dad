"""Ensembles of seed runs (paper §5.3, Table 2 "Ensem." rows and Table 6).

The members are runs of one (model, task, method) that differ only in their random seed. Their
predictions on a split are combined in one of three ways, as the paper lists them:

* ``majority``: each member votes with its argmax label; the label with most votes wins. Ties are broken
  by the larger summed softmax probability among the tied labels, then by the smaller label id, so the
  result never depends on the order of the members.
* ``logits``: argmax of the summed logits.
* ``probabilities``: argmax of the summed softmax probabilities.

The method is picked on dev (highest dev score; ties go to the earlier method in :data:`METHODS`) and
then reported on test.

Members are :class:`maskbert.evaluation.Predictions` (or any object with ``logits``, ``labels`` and
``score(task, predicted_ids)``), one per seed, with the same units in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

METHODS = ("majority", "logits", "probabilities")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, numerically stable."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def _stack(logits: Sequence[np.ndarray]) -> np.ndarray:
    if len(logits) == 0:
        raise ValueError("an ensemble needs at least one member")
    shapes = {np.shape(x) for x in logits}
    if len(shapes) != 1:
        raise ValueError(f"ensemble members disagree on the shape of their logits: {sorted(shapes)}")
    stacked = np.stack([np.asarray(x, dtype=np.float64) for x in logits])
    if stacked.ndim != 3:
        raise ValueError(f"expected logits of shape [units, classes] per member, got {stacked.shape[1:]}")
    return stacked  # [members, units, classes]


def majority_vote(logits: Sequence[np.ndarray]) -> np.ndarray:
    """Most-voted argmax label per unit; ties -> larger summed probability, then smaller label id."""
    stacked = _stack(logits)
    votes = np.zeros(stacked.shape[1:], dtype=np.int64)  # [units, classes]
    member_ids = stacked.argmax(axis=-1)  # [members, units]
    for ids in member_ids:
        votes[np.arange(votes.shape[0]), ids] += 1
    prob_sum = softmax(stacked).sum(axis=0)  # [units, classes]
    tied = votes == votes.max(axis=-1, keepdims=True)
    # Among the tied labels the larger summed probability wins; argmax returns the smaller id on equality.
    key = np.where(tied, prob_sum, -np.inf)
    return key.argmax(axis=-1)


def combine(logits: Sequence[np.ndarray], method: str) -> np.ndarray:
    """Predicted label ids of the ensemble of ``logits`` (one [units, classes] array per member)."""
    if method == "majority":
        return majority_vote(logits)
    if method == "logits":
        return _stack(logits).sum(axis=0).argmax(axis=-1)
    if method == "probabilities":
        return softmax(_stack(logits)).sum(axis=0).argmax(axis=-1)
    raise ValueError(f"unknown ensemble method '{method}': expected one of {', '.join(METHODS)}")


def _check_members(members: Sequence) -> None:
    if not members:
        raise ValueError("an ensemble needs at least one member")
    labels = np.asarray(members[0].labels)
    for i, member in enumerate(members[1:], start=1):
        if not np.array_equal(np.asarray(member.labels), labels):
            raise ValueError(f"ensemble member {i} was scored on different units/labels than member 0")


def ensemble_score(members: Sequence, task, method: str) -> float:
    """The task metric (percent) of the ``method`` ensemble of ``members`` on their common split."""
    _check_members(members)
    ids = combine([m.logits for m in members], method)
    return float(members[0].score(task, ids))


def evaluate_ensembles(
    dev_members: Sequence,
    task,
    test_members: Sequence | None = None,
    methods: Sequence[str] = METHODS,
) -> dict:
    """Score every ensemble method on dev, pick the best there, and score it (and all others) on test.

    Returns ``{"members", "methods": {m: {"dev": score, "test": score|None}}, "selected", "dev", "test",
    "single": {"dev": [...], "test": [...]}}`` with the member scores under ``single``.
    """
    if not methods:
        raise ValueError("no ensemble methods given")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown ensemble method(s) {unknown}: expected {', '.join(METHODS)}")
    if test_members is not None and len(test_members) != len(dev_members):
        raise ValueError(f"{len(dev_members)} dev members but {len(test_members)} test members")
    result: dict = {"members": len(dev_members), "methods": {}}
    for method in methods:
        dev = ensemble_score(dev_members, task, method)
        test = ensemble_score(test_members, task, method) if test_members is not None else None
        result["methods"][method] = {"dev": dev, "test": test}
    selected = max(methods, key=lambda m: (result["methods"][m]["dev"], -methods.index(m)))
    result["selected"] = selected
    result["dev"] = result["methods"][selected]["dev"]
    result["test"] = result["methods"][selected]["test"]
    result["single"] = {
        "dev": [float(m.score(task)) for m in dev_members],
        "test": [float(m.score(task)) for m in test_members] if test_members is not None else None,
    }
    return result


def evaluate_ensemble_files(
    dev_paths: Sequence[str | Path],
    task,
    test_paths: Sequence[str | Path] | None = None,
    methods: Sequence[str] = METHODS,
) -> dict:
    """:func:`evaluate_ensembles` on saved ``*_predictions.safetensors`` files (one per seed)."""
    from maskbert.evaluation import Predictions

    dev = [Predictions.load(p) for p in dev_paths]
    test = [Predictions.load(p) for p in test_paths] if test_paths is not None else None
    return evaluate_ensembles(dev, task, test, methods)


def error_rate(score: float | None) -> float | None:
    """Test error in percent, as Tables 2 and 6 report it (100 - accuracy / F1)."""
    return None if score is None else 100.0 - float(score)
