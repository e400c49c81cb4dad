"""Metrics from scikit-learn/seqeval, and tagging scored over every gold word."""

import numpy as np
import pytest
from conftest import task_view

from maskbert.evaluation import Predictions
from maskbert.metrics import DROPPED, score_labels, score_tagging


def test_accuracy_and_mcc_in_percent():
    assert score_labels("accuracy", np.array([1, 0, 1, 1]), np.array([1, 0, 0, 1])) == 75.0
    assert score_labels("mcc", np.array([1, 0, 1, 0]), np.array([1, 0, 1, 0])) == pytest.approx(100.0)


def test_dropped_words_count_as_errors():
    names = ("O", "B-PER", "I-PER")
    gold = [[1, 2, 0, 1]]
    assert score_tagging("token_accuracy", [[1, 2, 0, DROPPED]], gold, names) == 75.0
    # two gold entities, the second was cut off: precision 1, recall 1/2
    assert score_tagging("ner_f1", [[1, 2, 0, DROPPED]], gold, names) == pytest.approx(100 * 2 / 3)


def test_predictions_score_kept_words_or_all_words_and_round_trip(tmp_path):
    task = task_view("tagging", labels=3, metric="token_accuracy")
    # sentence 1: 2 words, both kept; sentence 2: 3 words, word 1 has no prediction (dropped)
    predictions = Predictions(
        logits=np.eye(3, dtype=np.float32)[[1, 2, 0, 1]],  # argmax 1,2 | 0,1
        labels=np.array([1, 2, 0, 1]),
        kept_counts=np.array([2, 2]),
        kept_words=np.array([0, 1, 0, 2]),
        word_counts=np.array([2, 3]),
        word_labels=np.array([1, 2, 0, 2, 1]),
    )
    assert predictions.score(task) == 100.0
    assert predictions.score(task, all_words=True) == pytest.approx(100 * 4 / 5)
    assert predictions.words_dropped == 1
    loaded = Predictions.load(predictions.save(tmp_path / "p.safetensors"))
    assert loaded.score(task, all_words=True) == predictions.score(task, all_words=True)
    assert loaded.score(task, np.array([1, 2, 0, 0])) == pytest.approx(75.0)
