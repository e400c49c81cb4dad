"""Beyond the paper: masking against today's parameter-efficient methods, accuracy against bytes per task.

Every method goes through the same grid, dev selection (§4's rule included) and test evaluation as the
paper's two; a task's storage is what its run's artifact holds on disk (`summary.json`'s `artifact_bytes`;
masking also as the entropy-coded artifact, `artifact_bytes_coded`), so the comparison counts measured
bytes, not a formula.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reproduction.figures import figure, save_figure
from reproduction.report import Table, fmt, fmt_lr, fmt_pm, model_name, task_name

# Masking is shown twice: its 1-bit artifact (the paper's storage) and the same masks coded (maskbert.coding).
CODED = "masking, coded"


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population standard deviation (ddof=0, the convention of every table here)."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return float("nan"), float("nan")
    return float(array.mean()), float(array.std(ddof=0))


def comparison_rows(groups: Iterable[Mapping]) -> list[dict]:
    """One row per (model, task, method) and storage variant.

    Each group: ``selection`` (select_lr's JSON), ``summaries`` (summary.json of every seed's selected run),
    ``tests`` (test_metrics.json of every seed, empty for a task without a test split).
    """
    rows = []
    for group in groups:
        selection, summaries, tests = group["selection"], group["summaries"], group["tests"]
        if len(summaries) != len(selection["seeds"]):
            raise ValueError(
                f"{selection['model']} {selection['task']} {selection['method']}: {len(summaries)} run summaries "
                f"for {len(selection['seeds'])} seeds"
            )
        test_mean, test_std = mean_std([t["score"] for t in tests])
        dev_mean, dev_std = mean_std(list(selection["dev_scores"].values()))
        base = {
            "model": selection["model"],
            "task": selection["task"],
            "method": selection["method"],
            "metric": selection["metric"],
            "lr": float(selection["best_lr"]),
            "n_seeds": len(summaries),
            "dev_mean": dev_mean,
            "dev_std": dev_std,
            "test_mean": test_mean,
            "test_std": test_std,
            "trainable_params": int(np.mean([s["trainable_parameters"] for s in summaries])),
        }
        rows.append(
            {**base, "storage": selection["method"], "bytes_per_task": _mean(summaries, "artifact_bytes")}
        )
        if all("artifact_bytes_coded" in s for s in summaries):
            rows.append(
                {**base, "storage": CODED, "bytes_per_task": _mean(summaries, "artifact_bytes_coded")}
            )
    return rows


def _mean(summaries: Sequence[Mapping], key: str) -> float:
    return float(np.mean([s[key] for s in summaries]))


def methods_comparison(groups: Iterable[Mapping]) -> Table:
    """The comparison table: dev (mean ± std at the selected rate), test, trainable parameters, bytes per task."""
    data = pd.DataFrame(comparison_rows(groups))
    data = data.sort_values(["model", "task", "bytes_per_task"], kind="stable").reset_index(drop=True)
    data["pareto"] = pareto_front(data, ["model", "task"])
    display = pd.DataFrame(
        {
            "Model": data["model"].map(model_name),
            "Task": data["task"].map(task_name),
            "Method": data["storage"],
            "Metric": data["metric"],
            "Dev": [fmt_pm(m, s) for m, s in zip(data["dev_mean"], data["dev_std"])],
            "Test": [fmt_pm(m, s) for m, s in zip(data["test_mean"], data["test_std"])],
            "Trainable params": data["trainable_params"].map(fmt),
            "KB per task": [fmt(b / 1000, digits=1) for b in data["bytes_per_task"]],
            "lr": data["lr"].map(fmt_lr),
            "Pareto": data["pareto"].map(lambda p: "*" if p else ""),
        }
    )
    return Table(
        "methods_comparison",
        "Methods compared on the same grid, data and selection: dev score (%) mean ± std over seeds at the "
        "learning rate selected on dev, test score at that rate, trainable parameters and the bytes each task's "
        "artifact holds on disk (masking: 1-bit masks, and the same masks entropy-coded); * marks the Pareto "
        "front of dev score against bytes per task within a model and task.",
        data,
        display,
    )


def pareto_front(data: pd.DataFrame, by: Sequence[str]) -> pd.Series:
    """Whether each row is on its group's front: no other row of the group has at least its dev score with
    fewer bytes, or a higher dev score with no more bytes."""
    front = pd.Series(False, index=data.index)
    for _, group in data.groupby(list(by), sort=False):
        for i, row in group.iterrows():
            others = group.drop(index=i)
            dominated = (
                (others["bytes_per_task"] <= row["bytes_per_task"])
                & (others["dev_mean"] >= row["dev_mean"])
                & (
                    (others["bytes_per_task"] < row["bytes_per_task"])
                    | (others["dev_mean"] > row["dev_mean"])
                )
            ).any()
            front[i] = not dominated
    return front


def average_over_tasks(data: pd.DataFrame) -> pd.DataFrame:
    """Per (model, storage): the mean dev score and bytes per task over the tasks every storage has."""
    counts = data.groupby(["model", "storage"])["task"].nunique()
    tasks = data.groupby("model")["task"].nunique()
    complete = [key for key, n in counts.items() if n == tasks[key[0]]]
    kept = data.set_index(["model", "storage"]).loc[complete].reset_index()
    average = (
        kept.groupby(["model", "storage"], sort=False)[["dev_mean", "bytes_per_task"]].mean().reset_index()
    )
    average["task"] = "average"
    average["pareto"] = pareto_front(average, ["model"])
    return average


def methods_comparison_figure(table: Table, paths: Iterable[str | Path]) -> list[Path]:
    """Dev score against bytes per task (log axis): one panel per task and the average, one marker per
    method; the Pareto front joined by a line. One row of panels per model."""
    data = table.data
    average = average_over_tasks(data)
    models = list(dict.fromkeys(data["model"]))
    tasks = list(dict.fromkeys(data["task"])) + ["average"]
    storages = list(dict.fromkeys(data["storage"]))
    markers = dict(zip(storages, "osD^vP*Xh<>"))
    colors = {s: f"C{i}" for i, s in enumerate(storages)}
    fig, axes = figure(len(models), len(tasks), figsize=(3.2 * len(tasks), 3.0 * len(models)))
    for r, model in enumerate(models):
        for c, task in enumerate(tasks):
            ax = axes[r][c]
            source = average if task == "average" else data
            cell = source[(source["model"] == model) & (source["task"] == task)]
            for _, row in cell.iterrows():
                ax.scatter(
                    row["bytes_per_task"] / 1000,
                    row["dev_mean"],
                    marker=markers[row["storage"]],
                    color=colors[row["storage"]],
                    label=row["storage"],
                    zorder=3,
                )
            front = cell[cell["pareto"]].sort_values("bytes_per_task")
            ax.plot(front["bytes_per_task"] / 1000, front["dev_mean"], color="grey", linestyle="--", zorder=2)
            ax.set_xscale("log")
            ax.set_title(
                f"{model_name(model)}, {task if task == 'average' else task_name(task)}",
                fontsize=9,
                wrap=True,
            )
            ax.tick_params(labelsize=7)
            if r == len(models) - 1:
                ax.set_xlabel("KB per task (log)", fontsize=8)
            if c == 0:
                ax.set_ylabel("dev score (%)", fontsize=8)
    handles = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(
        handles.values(), handles.keys(), loc="outside lower center", ncols=min(len(handles), 6), fontsize=8
    )
    return save_figure(fig, paths)
