"""The paper's metrics (App. A.3), from scikit-learn and seqeval, in percent."""

from __future__ import annotations

import numpy as np
from seqeval.metrics import f1_score
from sklearn.metrics import accuracy_score, matthews_corrcoef

from maskbert.data.tasks import METRICS

DROPPED = -1  # prediction id of a gold word that truncation removed: always an error


def score_labels(metric: str, predicted: np.ndarray, gold: np.ndarray) -> float:
    """Accuracy or Matthews correlation of flat label ids, in percent."""
    if metric in ("accuracy", "token_accuracy"):
        return float(100.0 * accuracy_score(gold, predicted))
    if metric == "mcc":
        return float(100.0 * matthews_corrcoef(gold, predicted))
    raise ValueError(f"metric '{metric}' needs sentence structure or is unknown: expected one of {METRICS}")


def score_tagging(metric: str, predicted: list[list[int]], gold: list[list[int]], label_names) -> float:
    """Token accuracy (POS) or entity-level micro-F1 (NER) over sentences of word label ids.

    A word whose prediction is DROPPED (cut by truncation, scored only when all gold words are) counts
    wrong for token accuracy; for NER it reads as 'O', so its entity counts as missed.
    """
    if metric == "token_accuracy":
        flat_predicted = (
            np.concatenate([np.asarray(s, dtype=np.int64) for s in predicted]) if predicted else []
        )
        flat_gold = np.concatenate([np.asarray(s, dtype=np.int64) for s in gold]) if gold else []
        return score_labels("accuracy", flat_predicted, flat_gold)
    if metric == "ner_f1":
        names = list(label_names)

        def to_tags(ids):
            return [names[i] if i != DROPPED else "O" for i in ids]

        return float(
            100.0 * f1_score([to_tags(s) for s in gold], [to_tags(s) for s in predicted], average="micro")
        )
    return score_labels(metric, np.concatenate(predicted), np.concatenate(gold))
