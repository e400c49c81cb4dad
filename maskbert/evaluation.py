"""Predictions of a model on a split, saved beside the run, scored, and reused by ensembling."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from maskbert.metrics import DROPPED, score_labels, score_tagging


@dataclass
class Predictions:
    """Logits per unit (example; for tagging, kept gold word) with gold labels.

    Tagging also keeps ``word_labels`` (every gold word, truncated ones too, flat), ``word_counts`` and
    ``kept_counts`` per sentence; truncation keeps a prefix of each sentence's words.
    """

    logits: np.ndarray
    labels: np.ndarray
    word_labels: np.ndarray | None = None
    word_counts: np.ndarray | None = None
    kept_counts: np.ndarray | None = None

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        arrays = {k: v for k, v in vars(self).items() if v is not None}
        tmp = path.with_name(path.name + ".tmp")
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Predictions:
        return cls(**load_file(str(path)))

    def predicted_ids(self) -> np.ndarray:
        return self.logits.argmax(axis=-1)

    def score(self, task, predicted_ids: np.ndarray | None = None) -> float:
        """The task's metric in percent, from argmax of the logits or from given unit predictions."""
        predicted = self.predicted_ids() if predicted_ids is None else np.asarray(predicted_ids)
        if self.word_counts is None:
            return score_labels(task.metric, predicted, self.labels)
        gold_sentences, predicted_sentences = [], []
        word_start = kept_start = 0
        for n_words, n_kept in zip(self.word_counts.tolist(), self.kept_counts.tolist()):
            gold_sentences.append(self.word_labels[word_start : word_start + n_words].tolist())
            kept = predicted[kept_start : kept_start + n_kept].tolist()
            predicted_sentences.append(kept + [DROPPED] * (n_words - n_kept))
            word_start += n_words
            kept_start += n_kept
        return score_tagging(task.metric, predicted_sentences, gold_sentences, task.label_names)


@torch.no_grad()
def predict(model, dataset, task, pad_token_id: int, batch_size: int = 64, device: str = "cpu") -> Predictions:
    """Run the model over a split in length-sorted batches (less padding), returning rows in order."""
    from maskbert.data import collate

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
        return Predictions(logits=logits.numpy(), labels=np.array([r["labels"] for r in rows], dtype=np.int64))
    kept = [[label for label in r["labels"] if label != -100] for r in rows]
    return Predictions(
        logits=logits.numpy(),
        labels=np.array([label for sentence in kept for label in sentence], dtype=np.int64),
        word_labels=np.array([label for r in rows for label in r["word_labels"]], dtype=np.int64),
        word_counts=np.array([len(r["word_labels"]) for r in rows], dtype=np.int64),
        kept_counts=np.array([len(k) for k in kept], dtype=np.int64),
    )


def _length(row: dict) -> int:
    ids = row["input_ids"]
    return max(len(c) for c in ids) if ids and isinstance(ids[0], list) else len(ids)


def evaluate_run(run_dir: str | Path, split: str, prepared_dir: str | Path | None = None,
                 device: str | None = None) -> dict:
    """Score a finished run's best model on a split of its task; writes `{split}_predictions.safetensors`
    and `{split}_metrics.json` in the run directory."""
    from maskbert.data import load_prepared
    from maskbert.training import load_run_model, pick_device

    run_dir = Path(run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    prepared = load_prepared(prepared_dir or run["prepared_dir"])
    if split not in prepared.splits:
        raise ValueError(f"task '{prepared.task.name}' has no '{split}' split: it has {sorted(prepared.splits)}")
    device = device or pick_device()
    model = load_run_model(run_dir, device=device)
    predictions = predict(model, prepared.splits[split], prepared.task, prepared.pad_token_id,
                          batch_size=2 * run["batch_size"], device=device)
    predictions.save(run_dir / f"{split}_predictions.safetensors")
    result = {"split": split, "metric": prepared.task.metric, "score": predictions.score(prepared.task),
              "examples": len(prepared.splits[split])}
    (run_dir / f"{split}_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
