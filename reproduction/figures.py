"""The paper's figures drawn with matplotlib (PNG and PDF), each with the paper's numbers where it has them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from maskbert.rundir import atomic_path
from reproduction.report import Table, model_name, task_name
from reproduction.sweeps import DIRECTIONS


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display), imported only when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


class FigureTextOverflow(UserWarning):
    """A figure's text runs off its canvas: matplotlib's layout could not fit it (the files keep it)."""


def figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """`pyplot.subplots` laid out by matplotlib's constrained layout (titles, labels, legends and a suptitle
    fitted to the canvas), axes always a 2-D array."""
    return pyplot().subplots(nrows, ncols, squeeze=False, layout="constrained", **kwargs)


def _drawn_texts(fig) -> list:
    """The figure's non-empty visible text artists that a draw places: titles, labels, legends, the tick
    labels inside the view limits, annotations."""
    from matplotlib.text import Text

    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    ticks = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - 1e-9 * abs(high - low) <= tick.get_loc() <= high + 1e-9 * abs(high - low):
                    ticks.update(map(id, (tick.label1, tick.label2)))
    return [t for t in texts if id(t) not in ticks]


def text_overflow(fig, tolerance: float = 1.0) -> list:
    """The drawn text artists whose extent (as drawn: wrapped when the text wraps) leaves the figure's
    canvas by more than `tolerance` pixels."""
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    canvas = fig.bbox
    outside = []
    for text in _drawn_texts(fig):
        box = text.get_window_extent(renderer)
        if (
            box.x0 < canvas.x0 - tolerance
            or box.y0 < canvas.y0 - tolerance
            or box.x1 > canvas.x1 + tolerance
            or box.y1 > canvas.y1 + tolerance
        ):
            outside.append(text)
    return outside


def save_figure(fig, paths: Iterable[str | Path]) -> list[Path]:
    """Save to each path (format by suffix: png, pdf) through a temporary name, so no half-written figure is
    left behind; then close the figure.

    The layout is matplotlib's (constrained layout, long titles with wrap=True); the check that it worked:
    a text still off the canvas is named in a FigureTextOverflow warning (which the test suite turns into
    an error), and the files are cropped to the drawn content (bbox_inches="tight"), so it is kept, not cut."""
    import warnings

    outside = text_overflow(fig)
    if outside:
        names = "; ".join(repr(t.get_text()[:60]) for t in outside[:3])
        warnings.warn(f"figure text runs off the canvas: {names}", FigureTextOverflow, stacklevel=2)
    written = []
    for path in map(Path, paths):
        with atomic_path(path) as tmp:  # the format from the final name: the temporary one has no suffix
            fig.savefig(tmp, dpi=150, bbox_inches="tight", format=path.suffix[1:])
        written.append(path)
    pyplot().close(fig)
    return written


def figure3(table: Table, paths: Iterable[str | Path]) -> list[Path]:
    """Figure 3: accumulated parameters (millions) and MB against the number of tasks, per model."""
    data = table.data
    fig, ((params_ax, memory_ax),) = figure(1, 2, figsize=(10, 4))
    axes = (params_ax, memory_ax)
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
    fig.suptitle("Accumulated parameters and memory to solve an increasing number of tasks", wrap=True)
    return save_figure(fig, paths)


def figure1(table: Table, paths: Iterable[str | Path]) -> list[Path]:
    """Figure 1: one panel per task, one line per model, mean ± std over seeds against sparsity (%)."""
    data = table.data
    tasks = list(dict.fromkeys(data["task"]))
    fig, axes = figure(1, max(len(tasks), 1), figsize=(3.6 * max(len(tasks), 2), 3.4))
    for ax, task in zip(axes[0], tasks):
        for model, group in data[data["task"] == task].groupby("model", sort=False):
            x = 100 * group["initial_sparsity"]
            ax.errorbar(
                x,
                group["ours_mean"],
                yerr=group["ours_std"],
                marker="o",
                markersize=3,
                capsize=2,
                label=model_name(model),
            )
        metric = data.loc[data["task"] == task, "metric"].iloc[0]
        ax.set_title(task_name(task))
        ax.set_xlabel("initial sparsity (%)")
        ax.set_ylabel(f"dev {metric} (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(
        "Masking: dev score against the initial sparsity (mean ± std over seeds)", fontsize=10, wrap=True
    )
    return save_figure(fig, paths)


def figure2(table: Table, paths: Iterable[str | Path]) -> list[Path]:
    """Figure 2: per (initial sparsity, task) panel, dev score against the number of masked blocks, one line
    bottom-up and one top-down (the all-blocks point ends both), the paper's dashed, finetuning dotted."""
    from matplotlib.ticker import MaxNLocator

    data = table.data
    masking = data[data["method"] == "masking"]
    sparsities = sorted(masking["initial_sparsity"].unique())
    tasks = list(dict.fromkeys(masking["task"]))
    fig, axes = figure(
        max(len(sparsities), 1),
        max(len(tasks), 1),
        figsize=(3.8 * max(len(tasks), 2), 3.2 * max(len(sparsities), 1)),
    )
    colors = {"bottom-up": "tab:red", "top-down": "tab:blue"}  # the paper's Figure 2
    markers = ["o", "s", "^", "D"]
    for row, sparsity in enumerate(sparsities):
        for col, task in enumerate(tasks):
            ax = axes[row][col]
            cell = masking[(masking["initial_sparsity"] == sparsity) & (masking["task"] == task)]
            for m, (model, group) in enumerate(cell.groupby("model", sort=False)):
                for direction in DIRECTIONS:
                    line = group[group["direction"].isin([direction, "all"])].sort_values("n_blocks")
                    if line.empty:
                        continue
                    label = f"{direction} ({model_name(model)})" if len(tasks) and col == 0 else None
                    ax.errorbar(
                        line["n_blocks"],
                        line["ours_mean"],
                        yerr=line["ours_std"],
                        capsize=2,
                        marker=markers[m % len(markers)],
                        color=colors[direction],
                        label=label,
                    )
                    if line["paper_mean"].notna().any():
                        ax.plot(
                            line["n_blocks"],
                            line["paper_mean"],
                            linestyle="--",
                            marker="x",
                            color=colors[direction],
                            alpha=0.6,
                            label=f"{direction}, paper" if col == 0 else None,
                        )
                ft = data[
                    (data["method"] == "finetuning") & (data["task"] == task) & (data["model"] == model)
                ]
                if len(ft):
                    ax.axhline(
                        ft["ours_mean"].iloc[0],
                        color="gray",
                        linestyle=":",
                        label="finetuning" if col == 0 and m == 0 else None,
                    )
            metric = cell["metric"].iloc[0] if len(cell) else ""
            ax.set_title(f"{task_name(task)}, initial sparsity {100 * sparsity:g}%", fontsize=9, wrap=True)
            ax.set_xlabel("masked transformer blocks")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(f"dev {metric} (%)")
            ax.grid(alpha=0.3)
            if col == 0:
                ax.legend(fontsize=6)
    fig.suptitle(
        "Masking some transformer blocks: bottom-up vs top-down (mean ± std over seeds)",
        fontsize=10,
        wrap=True,
    )
    return save_figure(fig, paths)
