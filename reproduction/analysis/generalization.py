"""Table 3 (§6.2): does a model trained on one sentiment task work on another?

A run's best model is evaluated on a split of another task, its output columns matched to the evaluated
task's labels by name; the number reported is the accuracy minus the majority-class baseline of the
evaluated split. The paper does this between SST-2 and SEM (dev) and applies the SST-2 models to IMDB's
test set.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from maskbert.evaluation import Predictions
from maskbert.methods import load_run_model
from maskbert.rundir import read_run
from reproduction.analysis.models import evaluate


def label_permutation(
    trained: list[str], evaluated: list[str], aliases: Mapping[str, str] | None = None, where: str = ""
) -> np.ndarray:
    """Column of the trained model's logits for each evaluated label, matched by name.

    `aliases` renames the evaluated task's labels first (IMDB calls them neg/pos, SST-2 negative/positive).
    Two label sets that differ are an error naming both.
    """
    renamed = [(aliases or {}).get(name, name) for name in evaluated]
    if sorted(renamed) != sorted(trained) or len(set(renamed)) != len(renamed):
        shown = f"{list(evaluated)}" + (f" (renamed {renamed})" if renamed != list(evaluated) else "")
        raise ValueError(
            f"{where}the trained model's labels {list(trained)} differ from the evaluated task's "
            f"labels {shown}; a label map (analyses.table3.label_aliases) can rename them"
        )
    return np.array([trained.index(name) for name in renamed])


def majority_baseline(labels: np.ndarray) -> float:
    """Accuracy (%) of always predicting the split's most frequent label."""
    if len(labels) == 0:
        raise ValueError("majority baseline of an empty split")
    return 100.0 * np.bincount(labels).max() / len(labels)


def cross_evaluate(
    run_dir: str | Path,
    targets: list[tuple],
    aliases: Mapping[str, Mapping[str, str]] | None = None,
    batch_size: int = 64,
    device: str = "cpu",
) -> list[dict]:
    """Accuracy of a run's model on each (prepared task, split) of `targets`, with the split's majority
    baseline; `aliases` maps an evaluated task's name to its label renaming. Every label set is checked
    before the model is loaded (once)."""
    record = read_run(run_dir)
    columns = []
    for prepared, _ in targets:
        task = prepared.task
        if task.kind != record["task_kind"] or task.metric != "accuracy":
            raise ValueError(
                f"{run_dir}: a {record['task_kind']} model cannot be scored on {task.name} "
                f"({task.kind}, {task.metric}); Table 3 compares accuracy on single-text tasks"
            )
        columns.append(
            label_permutation(
                record["label_names"],
                list(task.label_names),
                (aliases or {}).get(task.name),
                where=f"{run_dir}: ",
            )
        )
    model = load_run_model(run_dir, device)
    results = []
    for (prepared, split), order in zip(targets, columns):
        predictions = evaluate(model, prepared, split, batch_size, device)
        matched = Predictions(logits=predictions.logits[:, order], labels=predictions.labels)
        accuracy, majority = matched.score(prepared.task), majority_baseline(predictions.labels)
        results.append(
            {
                "model": record["model"],
                "method": record["method"],
                "seed": int(record["seed"]),
                "train_task": record["task"],
                "eval_task": prepared.task.name,
                "split": split,
                "examples": len(matched.labels),
                "accuracy": accuracy,
                "majority": majority,
                "improvement": accuracy - majority,
            }
        )
    return results
