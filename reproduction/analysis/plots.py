"""Figures 4-7 drawn with matplotlib (PNG and PDF by suffix), from the analyses' tidy results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reproduction.figures import figure, save_figure
from reproduction.report import model_name, task_name


def figure4(panels: list[dict], paths) -> list[Path]:
    """One row per (model, task, seed), one column per representation: t-SNE points coloured by gold label.

    panels: {model, task, seed, kind, points (n x 2), labels (n), label_names, probe (mean accuracy)}.
    """
    rows = list(dict.fromkeys((p["model"], p["task"], p["seed"]) for p in panels))
    kinds = list(dict.fromkeys(p["kind"] for p in panels))
    fig, axes = figure(len(rows), len(kinds), figsize=(3.6 * len(kinds), 3.4 * len(rows)))
    for panel in panels:
        ax = axes[rows.index((panel["model"], panel["task"], panel["seed"]))][kinds.index(panel["kind"])]
        points, labels = np.asarray(panel["points"]), np.asarray(panel["labels"])
        for label, name in enumerate(panel["label_names"]):
            chosen = labels == label
            ax.scatter(points[chosen, 0], points[chosen, 1], s=6, alpha=0.7, label=name)
        ax.set_title(
            f"{model_name(panel['model'])} {panel['kind']} (probe {panel['probe']:.1f}%)", fontsize=9
        )
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0][0].legend(fontsize=8, markerscale=2)
    fig.suptitle(
        f"t-SNE of the top block's [CLS] on {task_name(rows[0][1])} dev\n"
        "(scikit-learn's 2020 defaults: random init, learning rate 200)",
        wrap=True,
    )
    return save_figure(fig, paths)


def figure5(scores: pd.DataFrame, paths, model: str, layer_type: str = "O", blocks=None) -> list[Path]:
    """Heatmaps of s between tasks (mean over seeds) for one layer type in two blocks; by default the first
    and the last masked block (2 and 11 for BERT, as in the paper)."""
    pairs = scores[(scores["comparison"] == "tasks") & (scores["layer_type"] == layer_type)]
    if pairs.empty:
        raise ValueError(f"Figure 5: no pair of tasks compared on layer type {layer_type}")
    present = sorted(pairs["block"].unique())
    blocks = [present[0], present[-1]] if blocks is None else list(blocks)
    tasks = list(dict.fromkeys([*pairs["task1"], *pairs["task2"]]))
    labels = [task_name(t) for t in tasks]
    fig, axes = figure(1, len(blocks), figsize=(4.8 * len(blocks), 4.2))
    for ax, block in zip(axes[0], blocks):
        grid = np.full((len(tasks), len(tasks)), np.nan)
        for (t1, t2), value in pairs[pairs["block"] == block].groupby(["task1", "task2"])["s"].mean().items():
            grid[tasks.index(t1), tasks.index(t2)] = grid[tasks.index(t2), tasks.index(t1)] = value
        image = ax.imshow(grid, vmin=0.0, vmax=1.0, cmap="viridis")
        for i in range(len(tasks)):
            for j in range(len(tasks)):
                if not np.isnan(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white")
        ax.set_xticks(range(len(tasks)), labels, rotation=60, fontsize=8)
        ax.set_yticks(range(len(tasks)), labels, fontsize=8)
        ax.set_title(f"W_{layer_type}, block {block}")
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle(f"Mask dissimilarity s between tasks ({model_name(model)}, mean over seeds)", wrap=True)
    return save_figure(fig, paths)


def _band(ax, frame: pd.DataFrame, x: str, y: str, label: str, **style) -> None:
    """Mean over seeds as a line, min-max over seeds as a band."""
    stats = frame.groupby(x)[y].agg(["mean", "min", "max"])
    ax.plot(stats.index, stats["mean"], marker="o", markersize=3, label=label, **style)
    if frame["seed"].nunique() > 1:
        ax.fill_between(stats.index, stats["min"], stats["max"], alpha=0.15, color=ax.lines[-1].get_color())


def figure6(rows: pd.DataFrame, paths) -> list[Path]:
    """Columns: tasks. Top: finetuned (γ=0) to masked (γ=1); bottom: pretrained (γ=0) to finetuned/masked."""
    tasks = list(dict.fromkeys(rows["task"]))
    fig, axes = figure(2, len(tasks), figsize=(4.8 * len(tasks), 7))
    for column, task in enumerate(tasks):
        for model, group in rows[rows["task"] == task].groupby("model", sort=False):
            name = model_name(model)
            _band(axes[0][column], group[group["path"] == "finetuned→masked"], "gamma", "score", name)
            for path, style in (("pretrained→finetuned", "-"), ("pretrained→masked", "--")):
                _band(
                    axes[1][column],
                    group[group["path"] == path],
                    "gamma",
                    "score",
                    f"{name}: {path.split('→')[1]}",
                    linestyle=style,
                )
        metric = rows.loc[rows["task"] == task, "metric"].iloc[0]
        axes[0][column].set_title(
            f"{task_name(task)} dev: finetuned (γ=0) → masked (γ=1)", fontsize=9, wrap=True
        )
        axes[1][column].set_title(
            f"{task_name(task)} dev: pretrained (γ=0) → trained (γ=1)", fontsize=9, wrap=True
        )
        for ax in axes[:, column]:
            ax.set_xlabel("γ")
            ax.set_ylabel(f"dev {metric} (%)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    return save_figure(fig, paths)


def figure7(rows: pd.DataFrame, paths) -> list[Path]:
    """Per (model, task): dev score along the trained Bézier curve and along the straight line."""
    panels = list(dict.fromkeys(zip(rows["model"], rows["task"])))
    fig, axes = figure(1, len(panels), figsize=(4.8 * len(panels), 3.8))
    for ax, (model, task) in zip(axes[0], panels):
        group = rows[(rows["model"] == model) & (rows["task"] == task)]
        for path, style in (("bezier", "-"), ("line", "--")):
            _band(
                ax,
                group[group["path"] == path],
                "t",
                "score",
                "Bézier curve (3 bends)" if path == "bezier" else "line segment",
                linestyle=style,
            )
        ax.set_title(
            f"{model_name(model)}, {task_name(task)} dev:\nfinetuned (t=0) → masked (t=1)",
            fontsize=9,
            wrap=True,
        )
        ax.set_xlabel("t")
        ax.set_ylabel(f"dev {group['metric'].iloc[0]} (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, paths)
