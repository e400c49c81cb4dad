"""The paper's figures drawn with matplotlib (PNG and PDF), each with the paper's numbers where it has them."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from reproduction.report import Table, model_name, task_name


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display), imported only when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, paths: Iterable[str | Path]) -> list[Path]:
    """Save to each path (format by suffix: png, pdf) through a temporary name, so no half-written figure is
    left behind; then close the figure."""
    written = []
    for path in map(Path, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
        fig.savefig(tmp, dpi=150)
        os.replace(tmp, path)
        written.append(path)
    pyplot().close(fig)
    return written


def figure3(table: Table, paths: Iterable[str | Path]) -> list[Path]:
    """Figure 3: accumulated parameters (millions) and MB against the number of tasks, per model."""
    plt = pyplot()
    data = table.data
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    colors = {"finetuning": "tab:blue", "masking": "tab:red"}
    for model, group in data.groupby("model", sort=False):
        for method in ("finetuning", "masking"):
            for ax, unit, scale in ((axes[0], "params", 1e6), (axes[1], "mb", 1.0)):
                ax.plot(
                    group["n_tasks"],
                    group[f"{method}_{unit}"] / scale,
                    marker="o",
                    color=colors[method],
                    label=f"{method.capitalize()} ({model_name(model)})",
                    linestyle="-" if model == data["model"].iloc[0] else "--",
                )
                paper = group[f"{method}_{unit}_paper"]
                if paper.notna().any():
                    ax.scatter(
                        group["n_tasks"],
                        paper / scale,
                        marker="x",
                        s=50,
                        color="black",
                        zorder=3,
                        label=f"{method.capitalize()}, paper" if ax is axes[0] else None,
                    )
        coded = group.get("masking_coded_mb")
        if coded is not None and coded.notna().any():  # memory only: the parameters are masking's
            axes[1].plot(
                group["n_tasks"],
                coded,
                marker=".",
                color="tab:green",
                label=f"Masking, coded ({model_name(model)})",
                linestyle="-" if model == data["model"].iloc[0] else "--",
            )
    first = data[data["model"] == data["model"].iloc[0]] if len(data) else data
    for ax, ylabel in ((axes[0], "parameters (millions)"), (axes[1], "memory (MB)")):
        ax.set_xlabel("number of tasks")
        ax.set_ylabel(ylabel)
        ax.set_xticks(list(first["n_tasks"]))
        ax.set_xticklabels(
            [f"{n}\n{task_name(t)}" for n, t in zip(first["n_tasks"], first["task"])], fontsize=7
        )
        ax.grid(alpha=0.3)
    for ax in axes:
        ax.legend(fontsize=7)
    fig.suptitle("Accumulated parameters and memory to solve an increasing number of tasks")
    fig.tight_layout()
    return save_figure(fig, paths)
