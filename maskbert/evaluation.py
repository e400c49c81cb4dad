"""Predictions of a model on a split, saved beside the run, scored, and reused by ensembling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from maskbert.data import collate, load_prepared
from maskbert.devices import check_device, pick_device
from maskbert.methods import load_run_model
from maskbert.metrics import DROPPED, score_labels, score_tagging
from maskbert.rundir import (
    EVALUATION,
    atomic_path,
    own_file,
    read_run,
    removed_if_left_empty,
    write_json_atomic,
)


@dataclass
class Predictions:
    """Logits per unit (an example; for tagging, a gold word that kept a label) with gold labels.

    Tagging also keeps, per sentence, ``kept_counts`` and ``word_counts``, and flat over sentences
    ``kept_words`` (the word index of each unit) and ``word_labels`` (every gold word, truncated ones
    too), so a score can be given over kept words (as the paper does: its Table 5 word counts exclude
    the words cut by the 128-wordpiece limit) or over all gold words with dropped words as errors.
    """

    logits: np.ndarray
    labels: np.ndarray
    kept_counts: np.ndarray | None = None
    kept_words: np.ndarray | None = None
    word_counts: np.ndarray | None = None
    word_labels: np.ndarray | None = None

    def save(self, path: str | Path) -> Path:
        arrays = {k: v for k, v in vars(self).items() if v is not None}
        with atomic_path(path) as tmp:
            save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Predictions:
        return cls(**load_file(str(path)))

    def predicted_ids(self) -> np.ndarray:
        return self.logits.argmax(axis=-1)

    @property
    def words_dropped(self) -> int:
        return 0 if self.word_counts is None else int(self.word_counts.sum() - self.kept_counts.sum())

    def score(self, task, predicted_ids: np.ndarray | None = None, all_words: bool = False) -> float:
        """The task's metric in percent, from argmax of the logits or from given unit predictions.

        For tagging, `all_words=True` scores every gold word and counts words without a prediction
        (cut by truncation) as errors; the default scores the kept words, like the paper.
        """
        predicted = self.predicted_ids() if predicted_ids is None else np.asarray(predicted_ids)
        if self.kept_counts is None:
            return score_labels(task.metric, predicted, self.labels)
        bounds = np.cumsum(self.kept_counts)[:-1]
        predicted_sentences = [s.tolist() for s in np.split(predicted, bounds)]
        if not all_words:
            gold_sentences = [s.tolist() for s in np.split(self.labels, bounds)]
            return score_tagging(task.metric, predicted_sentences, gold_sentences, task.label_names)
        word_bounds = np.cumsum(self.word_counts)[:-1]
        gold_sentences = [s.tolist() for s in np.split(self.word_labels, word_bounds)]
        full_predictions = []
        for gold, kept, kept_predicted in zip(
            gold_sentences, np.split(self.kept_words, bounds), predicted_sentences
        ):
            sentence = [DROPPED] * len(gold)
            for word, label in zip(kept.tolist(), kept_predicted):
                sentence[word] = label
            full_predictions.append(sentence)
        return score_tagging(task.metric, full_predictions, gold_sentences, task.label_names)


@torch.no_grad()
def predict(
    model, dataset, task, pad_token_id: int, batch_size: int = 64, device: str = "cpu"
) -> Predictions:
    """Run the model over a split in length-sorted batches (less padding), returning rows in order."""

    model.eval()
    rows = list(dataset)
    order = sorted(range(len(rows)), key=lambda i: _length(rows[i]))
    logits_by_row: dict[int, torch.Tensor] = {}
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        batch = collate([rows[i] for i in index], pad_token_id)
        labels = batch.pop("labels")
        output = model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu()
        for j, i in enumerate(index):
            if task.kind == "tagging":
                logits_by_row[i] = output[j][labels[j] != -100]
            else:
                logits_by_row[i] = output[j]
    logits = torch.cat([logits_by_row[i].reshape(-1, logits_by_row[i].shape[-1]) for i in range(len(rows))])
    if task.kind != "tagging":
        return Predictions(
            logits=logits.numpy(), labels=np.array([r["labels"] for r in rows], dtype=np.int64)
        )

    def flat(column):
        return np.array([value for r in rows for value in r[column]], dtype=np.int64)

    return Predictions(
        logits=logits.numpy(),
        labels=np.array([label for r in rows for label in r["labels"] if label != -100], dtype=np.int64),
        kept_counts=np.array([len(r["kept_words"]) for r in rows], dtype=np.int64),
        kept_words=flat("kept_words"),
        word_counts=np.array([len(r["word_labels"]) for r in rows], dtype=np.int64),
        word_labels=flat("word_labels"),
    )


def _length(row: dict) -> int:
    ids = row["input_ids"]
    return max(len(c) for c in ids) if ids and isinstance(ids[0], list) else len(ids)


def evaluate_run(
    run_dir: str | Path,
    split: str,
    prepared_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    device: str | None = None,
    *,
    predictions_path: str | Path | None = None,
    metrics_path: str | Path | None = None,
) -> dict:
    """Score a finished run's best model on a split of its task, or of another task with the same labels.

    Writes `{split}_predictions.safetensors` and `{split}_metrics.json` into `out_dir` (default
    RUN/evaluation/), or to `predictions_path` / `metrics_path` where given; the run's own files (its
    dev predictions above all) are never touched. Returns the metrics dict. Prepared data of another
    task is accepted when its label names are the run's, in any order (the logits are reordered to the
    data's label ids); other label sets raise a ValueError naming both.
    """
    check_device(device)
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / EVALUATION
    predictions_path = Path(predictions_path or out_dir / f"{split}_predictions.safetensors")
    metrics_path = Path(metrics_path or out_dir / f"{split}_metrics.json")
    for target in (predictions_path, metrics_path):
        if own_file(run_dir, target):
            raise ValueError(
                f"{target}: would write over the run's own {own_file(run_dir, target)}; "
                f"give --out a folder of its own (default {run_dir / EVALUATION})"
            )
    prepared = load_prepared(prepared_dir or run["prepared_dir"])
    task = prepared.task
    if split not in prepared.splits:
        raise ValueError(f"task '{task.name}' has no '{split}' split: it has {sorted(prepared.splits)}")
    columns = label_columns(
        run["label_names"],
        task.label_names,
        f"{run_dir} (task '{run['task']}')",
        f"{prepared.path} (task '{task.name}')",
    )
    device = device or pick_device()
    model = load_run_model(run_dir, device=device)
    predictions = predict(
        model,
        prepared.splits[split],
        task,
        prepared.pad_token_id,
        batch_size=2 * run["batch_size"],
        device=device,
    )
    predictions.logits = predictions.logits[:, columns]
    result = {
        "split": split,
        "task": task.name,
        "run_task": run["task"],
        "metric": task.metric,
        "score": predictions.score(task),
        "examples": len(prepared.splits[split]),
    }
    if task.kind == "tagging":
        result.update(
            words_scored=int(predictions.kept_counts.sum()),
            words_dropped=predictions.words_dropped,
            score_all_words=predictions.score(task, all_words=True),
        )
    # both files or neither (a full disk is one line, and leaves no folder this call made)
    with removed_if_left_empty(predictions_path.parent), removed_if_left_empty(metrics_path.parent):
        predictions.save(predictions_path)
        try:
            write_json_atomic(metrics_path, result)
        except BaseException:
            predictions_path.unlink(missing_ok=True)
            raise
    return result


def label_columns(
    model_labels, data_labels, model_where: str = "model", data_where: str = "data"
) -> list[int]:
    """For each label id of the data, the model's output column with the same label name.

    The identity when the names agree in order; a permutation when the same names come in another
    order; a ValueError naming both label sets otherwise.
    """
    model_labels, data_labels = list(model_labels), list(data_labels)
    if sorted(model_labels) != sorted(data_labels) or len(set(model_labels)) != len(model_labels):
        raise ValueError(
            f"label sets differ: {model_where} has {model_labels}, {data_where} has {data_labels}"
        )
    return [model_labels.index(name) for name in data_labels]
