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


class FigureTextOverflow(UserWarning):
    """A figure's text still ran off its canvas after fit_text(); the files are then cropped to fit it."""


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
    """The drawn text artists whose extent leaves the figure's canvas (by more than `tolerance` pixels)."""
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


def fit_text(fig, rounds: int = 3) -> list:
    """Wrap every text that runs off the canvas sideways to the canvas's width and lay the figure out again
    (tight_layout), a few rounds; returns what still runs off (empty when everything fits)."""
    import textwrap
    import warnings

    for _ in range(rounds):
        outside = text_overflow(fig)
        if not outside:
            return []
        renderer = fig.canvas.get_renderer()
        wrapped = False
        for text in outside:
            box = text.get_window_extent(renderer)
            if fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1:
                continue  # too tall or too low: wrapping would not help
            content = text.get_text()
            longest = max(len(line) for line in content.splitlines())
            chars = int(longest * 0.9 * fig.bbox.width / max(box.width, 1.0))
            if 8 <= chars < longest:
                lines = [textwrap.fill(line, chars) for line in content.splitlines()]
                text.set_text("\n".join(lines))
                wrapped = True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # tight_layout's "not applied" notes
            fig.tight_layout()
        if not wrapped and text_overflow(fig) == outside:
            break
    return text_overflow(fig)


def save_figure(fig, paths: Iterable[str | Path]) -> list[Path]:
    """Save to each path (format by suffix: png, pdf) through a temporary name, so no half-written figure is
    left behind; then close the figure.

    Every text must fit the canvas: fit_text() wraps and re-lays out what runs off; anything still off
    (named in a FigureTextOverflow warning, which the test suite turns into an error) is kept by cropping
    the files to the drawn content (bbox_inches="tight") instead of being cut."""
    import warnings

    outside = fit_text(fig)
    if outside:
        names = "; ".join(repr(t.get_text()[:60]) for t in outside[:3])
        warnings.warn(f"figure text runs off the canvas: {names}", FigureTextOverflow, stacklevel=2)
    written = []
    for path in map(Path, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
        fig.savefig(tmp, dpi=150, bbox_inches="tight" if outside else None)
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
