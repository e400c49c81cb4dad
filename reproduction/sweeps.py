"""The paper's two sweeps over the masking setting: §5.1 (Figure 1, initial sparsity) and §5.2 (Figure 2 and
Table 7, which transformer blocks are masked).

The workflow's config section ``sweeps:`` names them (``initial_sparsity`` and ``layerwise``). This module
checks that section against the models (:func:`check_sweep_config`), lists each sweep's training points so
the DAG can share a point with the main grid instead of training it twice (:func:`sweep_points`), builds
the Figure 1 numbers from per-run summaries (:func:`figure1_table`) and Table 7 from learning-rate
selections (:func:`table7`), draws both figures, and estimates what the sweeps cost on a GPU
(:func:`gpu_hours`).

No Snakemake here: rules/sweeps.smk calls these, and the tests call them on made-up inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from maskbert.data import get_task
from maskbert.families import format_blocks, parse_blocks
from maskbert.pretrained import num_blocks_of
from reproduction.figures import pyplot, save_figure
from reproduction.grid import configured_options
from reproduction.report import (
    Table,
    diff_or_nan,
    fmt,
    fmt_lr,
    fmt_pm,
    is_missing,
    model_name,
    paper_value,
    task_name,
)

SWEEPS = ("initial_sparsity", "layerwise")
DIRECTIONS = ("bottom-up", "top-down")


# ------------------------------------------------------------------------------------------------------
# Block sets
# ------------------------------------------------------------------------------------------------------
def model_blocks(cfg: Mapping, model: str) -> int:
    """Transformer blocks of a configured model: of its local copy when ``model_paths`` names one."""
    return num_blocks_of((cfg.get("model_paths") or {}).get(model, model))


def canonical_blocks(spec: str, num_blocks: int) -> str:
    """One spelling per block set ('02-11', '2-5,6-11' -> '2-11'), checked against the model's range."""
    return format_blocks(parse_blocks(spec, num_blocks))


def all_blocks(num_blocks: int) -> str:
    """Every block, as Figure 1 masks them ('0-11' for BERT-base)."""
    return format_blocks(tuple(range(num_blocks)))


def block_direction(spec: str, num_blocks: int) -> str | None:
    """'all' (every block), 'bottom-up' (0..k), 'top-down' (k..last), else None (Figure 2 has no line for it)."""
    blocks = parse_blocks(spec, num_blocks)
    contiguous = bool(blocks) and blocks == tuple(range(blocks[0], blocks[-1] + 1))
    if not contiguous:
        return None
    if blocks == tuple(range(num_blocks)):
        return "all"
    if blocks[0] == 0:
        return "bottom-up"
    if blocks[-1] == num_blocks - 1:
        return "top-down"
    return None


def layerwise_item(masked_blocks: str, initial_sparsity: float) -> str:
    """The ``item`` of a Table 7 row in resources/paper_results.csv, e.g. 'blocks0-11_sparsity0.05'."""
    return f"blocks{masked_blocks}_sparsity{float(initial_sparsity):g}"


# ------------------------------------------------------------------------------------------------------
# Config: what the schema cannot check
# ------------------------------------------------------------------------------------------------------
def check_sweep_config(cfg: Mapping) -> list[str]:
    """Problems of the ``sweeps:`` section, one line each naming the config key; [] when it is valid.

    Checked before any job runs: a model's config.json must be readable (its number of blocks); a task must
    exist and have a dev split; a sparsity must lie in (0, 1) and appear once; a block set must lie inside
    every sweep model's blocks, be non-empty and appear once (after canonical spelling: '2-5,6-11' is
    '2-11'); the layer-wise sweep needs the masking learning-rate grid (its selection) and the finetuning
    grid (Table 7's finetuning row).
    """
    sweeps = cfg.get("sweeps") or {}
    problems = []
    for sweep, section in sweeps.items():
        key = f"sweeps.{sweep}"
        if section is None:  # left out
            continue
        if sweep not in SWEEPS:
            problems.append(f"config key '{key}': unknown sweep; expected one of {', '.join(SWEEPS)}")
            continue
        blocks_of = {}
        for i, model in enumerate(section.get("models") or []):
            try:
                blocks_of[model] = model_blocks(cfg, model)
            except (OSError, ValueError, KeyError) as error:
                problems.append(
                    f"config key '{key}.models.{i}': cannot read the config of '{model}' ({error})"
                )
        for i, task in enumerate(section.get("tasks") or []):
            try:
                spec = get_task(task)
            except (KeyError, ValueError) as error:
                problems.append(f"config key '{key}.tasks.{i}': unknown task '{task}' ({error})")
                continue
            if "dev" not in spec.splits:
                problems.append(f"config key '{key}.tasks.{i}': task '{task}' has no dev split")
        seen = set()
        for i, value in enumerate(section.get("sparsities") or []):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
                problems.append(
                    f"config key '{key}.sparsities.{i}': {value!r} is not a fraction strictly between 0 and 1"
                )
            elif float(value) in seen:
                problems.append(f"config key '{key}.sparsities.{i}': {value} appears twice")
            else:
                seen.add(float(value))
        if sweep == "initial_sparsity":
            lr = section.get("learning_rate")
            if lr is not None and (not isinstance(lr, (int, float)) or not 0 < lr <= 1):
                problems.append(f"config key '{key}.learning_rate': {lr!r} is not a learning rate in (0, 1]")
        if sweep == "layerwise":
            problems += _check_block_sets(key, section.get("block_sets") or [], blocks_of)
            for method in ("masking", "finetuning"):
                if method not in (cfg.get("learning_rates") or {}):
                    problems.append(
                        f"config key 'learning_rates.{method}': the layer-wise sweep (Table 7) "
                        f"needs the {method} grid"
                    )
    return problems


def _check_block_sets(key: str, block_sets: Sequence[str], blocks_of: Mapping[str, int]) -> list[str]:
    """Each block set against each model's number of blocks; empty and repeated sets."""
    problems, seen = [], {}
    for model, n in blocks_of.items():
        for i, spec in enumerate(block_sets):
            try:
                canonical = canonical_blocks(str(spec), n)
            except ValueError as error:
                problems.append(
                    f"config key '{key}.block_sets.{i}': '{spec}' for {model} "
                    f"({n} blocks, 0-{n - 1}): {error}"
                )
                continue
            if canonical == "none":
                problems.append(f"config key '{key}.block_sets.{i}': '{spec}' masks no block")
            elif seen.setdefault((model, canonical), i) != i:
                problems.append(
                    f"config key '{key}.block_sets.{i}': '{spec}' is block set "
                    f"{seen[model, canonical]} again ({canonical})"
                )
    return problems


# ------------------------------------------------------------------------------------------------------
# Training points
# ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    """One training run's identity: the same Point is one run, whichever experiment asks for it."""

    model: str
    task: str
    method: str
    masked_blocks: str | None  # canonical spelling; None for finetuning
    initial_sparsity: float | None  # None for finetuning
    lr: float
    seed: int


def figure1_runs(cfg: Mapping) -> list[Point]:
    """Every Figure 1 run: all blocks masked, per model, sparsity, task and seed (default: ``seeds``), at the
    sweep's fixed learning rate; none when the sweep is left out."""
    section = (cfg.get("sweeps") or {}).get("initial_sparsity")
    if not section:
        return []
    seeds = section.get("seeds") or cfg["seeds"]
    return [
        Point(
            model,
            task,
            "masking",
            all_blocks(model_blocks(cfg, model)),
            float(sparsity),
            float(section["learning_rate"]),
            int(seed),
        )
        for model in section["models"]
        for sparsity in section["sparsities"]
        for task in section["tasks"]
        for seed in seeds
    ]


@dataclass(frozen=True)
class Group:
    """A (model, task, method, setting) whose learning rate is selected on the mean dev score over seeds."""

    model: str
    task: str
    method: str
    masked_blocks: str | None
    initial_sparsity: float | None


def layerwise_groups(cfg: Mapping) -> list[Group]:
    """Table 7's selections: masking per model, block set, sparsity and task in the config's order, then
    finetuning per model and task; none when the sweep is left out."""
    section = (cfg.get("sweeps") or {}).get("layerwise")
    if not section:
        return []
    masking = [
        Group(
            model, task, "masking", canonical_blocks(str(blocks), model_blocks(cfg, model)), float(sparsity)
        )
        for model in section["models"]
        for blocks in section["block_sets"]
        for sparsity in section["sparsities"]
        for task in section["tasks"]
    ]
    finetuning = [
        Group(model, task, "finetuning", None, None)
        for model in section["models"]
        for task in section["tasks"]
    ]
    return masking + finetuning


def sweep_points(cfg: Mapping, lr_grid: Callable[[str, str, str], Sequence[float]]) -> dict[str, list[Point]]:
    """Every training point of each experiment: ``main`` (the §4 grid), ``layerwise`` and
    ``initial_sparsity``; ``lr_grid(model, task, method)`` gives the initial learning-rate grid (the §4
    border rule may extend a selection's grid when it runs; those runs are not counted here).

    The same Point can appear under several experiments; :func:`new_points` counts what each adds.
    """
    seeds = [int(s) for s in cfg["seeds"]]
    points: dict[str, list[Point]] = {"main": []}
    for model in cfg["models"]:
        for task in cfg["tasks"]:
            for method in cfg["methods"]:
                options = configured_options(cfg, model, method)
                points["main"] += [
                    Point(
                        model,
                        task,
                        method,
                        options.get("masked_blocks"),
                        options.get("initial_sparsity"),
                        lr,
                        seed,
                    )
                    for lr in lr_grid(model, task, method)
                    for seed in seeds
                ]
    sweeps = cfg.get("sweeps") or {}
    if sweeps.get("layerwise"):
        points["layerwise"] = [
            Point(g.model, g.task, g.method, g.masked_blocks, g.initial_sparsity, lr, seed)
            for g in layerwise_groups(cfg)
            for lr in lr_grid(g.model, g.task, g.method)
            for seed in seeds
        ]
    if sweeps.get("initial_sparsity"):
        points["initial_sparsity"] = figure1_runs(cfg)
    return points


def new_points(points: Mapping[str, Sequence[Point]]) -> dict[str, int]:
    """Training jobs each experiment adds, in order (main grid first): points an earlier one has are free."""
    seen: set[Point] = set()
    added = {}
    for experiment, its_points in points.items():
        unique = set(its_points)
        added[experiment] = len(unique - seen)
        seen |= unique
    return added


# ------------------------------------------------------------------------------------------------------
# Figure 1: dev score against initial sparsity, from per-run summaries
# ------------------------------------------------------------------------------------------------------
def figure1_table(runs: Iterable[Mapping]) -> Table:
    """Mean ± std (population, over seeds) of the best dev score per (model, task, initial sparsity).

    ``runs``: one mapping per training run with model, task, initial_sparsity, seed, lr, metric and
    dev_score (the run's summary.json ``best_dev_score``). The paper gives only the plot, so the table has
    no paper column.
    """
    df = pd.DataFrame(list(runs))
    key = ["model", "task", "initial_sparsity"]
    duplicated = df.duplicated(key + ["seed"])
    if duplicated.any():
        raise ValueError(f"Figure 1: run {df.loc[duplicated, key + ['seed']].iloc[0].to_dict()} given twice")
    metrics = df.groupby(["model", "task"])["metric"].nunique()
    if (metrics > 1).any():
        raise ValueError(f"Figure 1: runs of {metrics[metrics > 1].index[0]} report different metrics")
    rows = []
    for (model, task, sparsity), group in df.groupby(key, sort=False):
        scores = group.sort_values("seed")["dev_score"].to_numpy(dtype=float)
        rows.append(
            {
                "model": model,
                "task": task,
                "metric": group["metric"].iloc[0],
                "initial_sparsity": float(sparsity),
                "lr": float(group["lr"].iloc[0]),
                "n_seeds": len(scores),
                "ours_mean": float(scores.mean()),
                "ours_std": float(scores.std()),
                "ours_min": float(scores.min()),
                "ours_max": float(scores.max()),
            }
        )
    data = pd.DataFrame(rows)
    if len(data):
        order = {t: i for i, t in enumerate(dict.fromkeys(data["task"]))}
        data = data.sort_values(
            ["model", "task", "initial_sparsity"],
            key=lambda c: c.map(order) if c.name == "task" else c,
            kind="stable",
        ).reset_index(drop=True)
    display = (
        pd.DataFrame(
            {
                "Model": data["model"].map(model_name),
                "Task": data["task"].map(task_name),
                "Metric": data["metric"],
                "Initial sparsity (%)": [f"{100 * s:g}" for s in data["initial_sparsity"]],
                "Dev": [fmt_pm(m, s) for m, s in zip(data["ours_mean"], data["ours_std"])],
                "Min–max": [f"{fmt(a)}–{fmt(b)}" for a, b in zip(data["ours_min"], data["ours_max"])],
                "lr": data["lr"].map(fmt_lr),
                "Seeds": data["n_seeds"],
            }
        )
        if len(data)
        else pd.DataFrame()
    )
    return Table(
        "figure1_initial_sparsity",
        "Figure 1 (§5.1): dev score (%) of masking every transformer "
        "block, W_P and W_T, against the initial sparsity of the masks, at a fixed learning rate; "
        "mean ± std over seeds. The paper gives only the plot.",
        data,
        display,
    )


def figure1(table: Table, paths: Iterable[str | Path]) -> list[Path]:
    """Figure 1: one panel per task, one line per model, mean ± std over seeds against sparsity (%)."""
    plt = pyplot()

    data = table.data
    tasks = list(dict.fromkeys(data["task"]))
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(3.6 * max(len(tasks), 2), 3.4), squeeze=False)
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
    fig.suptitle("Masking: dev score against the initial sparsity (mean ± std over seeds)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, paths)


# ------------------------------------------------------------------------------------------------------
# Table 7 and Figure 2: the layer-wise sweep, from learning-rate selections
# ------------------------------------------------------------------------------------------------------
def table7(
    masking: Sequence[Mapping],
    finetuning: Sequence[Mapping],
    num_blocks: Mapping[str, int],
    paper: pd.DataFrame | None = None,
) -> Table:
    """Dev mean ± std at the selected learning rate per (model, block set, initial sparsity, task), after
    the finetuning row, beside the paper's Table 7.

    ``masking``/``finetuning``: selection JSONs (select_lr's format; masking ones carry masked_blocks and
    initial_sparsity in their options); ``num_blocks``: {model: transformer blocks}, to name each set's direction.
    """
    rows = []
    for s in finetuning:
        rows.append(_table7_row(s, None, None, None, 0, paper))
    for s in masking:
        n = num_blocks[s["model"]]
        blocks = canonical_blocks(str(s["options"]["masked_blocks"]), n)
        rows.append(
            _table7_row(
                s,
                blocks,
                float(s["options"]["initial_sparsity"]),
                block_direction(blocks, n),
                _count_blocks(blocks, n),
                paper,
            )
        )
    data = pd.DataFrame(rows)
    duplicated = data.duplicated(["model", "method", "masked_blocks", "initial_sparsity", "task"])
    if duplicated.any():
        raise ValueError(
            f"Table 7: selection {data.loc[duplicated].iloc[0][['model', 'method', 'task']].to_dict()}"
            f" given twice"
        )
    return Table(
        "table7_layerwise",
        "Table 7 (§5.2, App. D.1): dev score (%) when masking a subset of the "
        "transformer blocks (plus W_P and W_T) at each initial sparsity, and of finetuning; mean ± "
        "std over seeds at the learning rate selected on the mean dev score; Δ = ours - paper.",
        data,
        _table7_display(data),
    )


def _count_blocks(blocks: str, num_blocks: int) -> int:
    return len(parse_blocks(blocks, num_blocks))


def _table7_row(s: Mapping, blocks, sparsity, direction, n_blocks, paper) -> dict:
    item = "" if blocks is None else layerwise_item(blocks, sparsity)
    kw = {"table": "7", "model": s["model"], "method": s["method"], "task": s["task"], "item": item}
    p_mean, p_std = paper_value(paper, "dev_mean", **kw), paper_value(paper, "dev_std", **kw)
    return {
        "model": s["model"],
        "method": s["method"],
        "masked_blocks": blocks,
        "n_blocks": n_blocks,
        "direction": direction,
        "initial_sparsity": sparsity,
        "task": s["task"],
        "metric": s["metric"],
        "lr": float(s["best_lr"]),
        "n_seeds": len(s["dev_scores"]),
        "ours_mean": float(s["dev_mean"]),
        "ours_std": float(s["dev_std"]),
        "paper_mean": p_mean,
        "paper_std": p_std,
        "diff": diff_or_nan(s["dev_mean"], p_mean),
    }


def _table7_display(data: pd.DataFrame) -> pd.DataFrame:
    """The paper's layout: one row per setting, per task ours, the paper's and Δ."""
    if data.empty:
        return pd.DataFrame()
    settings = data[["model", "method", "masked_blocks", "initial_sparsity", "direction"]].drop_duplicates()
    rows = []
    for setting in settings.itertuples(index=False):
        same = (data["model"] == setting.model) & (data["method"] == setting.method)
        if setting.method == "masking":
            same &= (data["masked_blocks"] == setting.masked_blocks) & (
                data["initial_sparsity"] == setting.initial_sparsity
            )
        row = {
            "Model": model_name(setting.model),
            "Method": setting.method.capitalize(),
            "Blocks": "–" if is_missing(setting.masked_blocks) else setting.masked_blocks,
            "Direction": "–"
            if setting.direction is None or is_missing(setting.direction)
            else setting.direction,
            "Sparsity (%)": "–"
            if is_missing(setting.initial_sparsity)
            else f"{100 * setting.initial_sparsity:g}",
        }
        for r in data[same].itertuples(index=False):
            name = task_name(r.task)
            row[name] = fmt_pm(r.ours_mean, r.ours_std)
            row[f"{name} (paper)"] = fmt_pm(r.paper_mean, r.paper_std)
            row[f"{name} Δ"] = fmt(r.diff, signed=True)
        rows.append(row)
    return pd.DataFrame(rows).fillna("–")


def figure2(table: Table, paths: Iterable[str | Path]) -> list[Path]:
    """Figure 2: per (initial sparsity, task) panel, dev score against the number of masked blocks, one line
    bottom-up and one top-down (the all-blocks point ends both), the paper's dashed, finetuning dotted."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    data = table.data
    masking = data[data["method"] == "masking"]
    sparsities = sorted(masking["initial_sparsity"].unique())
    tasks = list(dict.fromkeys(masking["task"]))
    fig, axes = plt.subplots(
        max(len(sparsities), 1),
        max(len(tasks), 1),
        squeeze=False,
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
            ax.set_title(f"{task_name(task)}, initial sparsity {100 * sparsity:g}%", fontsize=9)
            ax.set_xlabel("masked transformer blocks")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(f"dev {metric} (%)")
            ax.grid(alpha=0.3)
            if col == 0:
                ax.legend(fontsize=6)
    fig.suptitle(
        "Masking some transformer blocks: bottom-up vs top-down (mean ± std over seeds)", fontsize=10
    )
    fig.tight_layout()
    return save_figure(fig, paths)


# ------------------------------------------------------------------------------------------------------
# Cost: GPU-hours from a measured step time and the dataset sizes
# ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepTime:
    """Seconds of one training step (forward, backward, optimizer) at ``batch_size`` and ``length``."""

    seconds: float
    batch_size: int
    length: int
    source: str


# Measured on an NVIDIA H100 80GB (fp32, torch 2.11, random-initialised BERT-base built from the shipped
# config, sequence length 128, median of 30 steps after 5 warm-up) with bench/step_cost.py's `measure`;
# masking all blocks 0-11 (Figure 1's setting; 2-11 took 0.053 s, finetuning 0.061 s). Recorded in
# bench/results/step_cost_bert_h100.md.
BERT_H100_MASKING = {
    32: StepTime(0.0605, 32, 128, "H100, BERT-base masking 0-11, batch 32, length 128"),
    128: StepTime(0.1969, 128, 128, "H100, BERT-base masking 0-11, batch 128, length 128"),
}
# Dev evaluation: a forward pass costs about a third of a training step per example.
EVAL_COST = 1 / 3


def run_gpu_seconds(train_size: int, dev_size: int, batch_size: int, epochs: int, step: StepTime) -> float:
    """Upper bound of one run: every epoch (no early stop), every batch padded to ``step.length``.

    Steps per epoch = ceil(train / batch); a step at another batch size costs ``step.seconds`` scaled
    by batch / step.batch_size; dev is evaluated after each epoch at :data:`EVAL_COST` of the training cost
    per example.
    """
    per_example = step.seconds / step.batch_size
    per_step = per_example * batch_size
    return epochs * (math.ceil(train_size / batch_size) * per_step + dev_size * per_example * EVAL_COST)


def gpu_hours(
    points: Mapping[str, Sequence[Point]],
    sizes: Mapping[str, tuple[int, int]],
    batch_size: Callable[[str], int],
    epochs: int,
    steps: Mapping[str, Mapping[int, StepTime]],
) -> pd.DataFrame:
    """Per experiment: its training points, the ones no earlier experiment has (new jobs) and their GPU-hours.

    ``sizes``: {task: (train examples, dev examples)}; ``steps``: {model: {batch size: measured step}}
    (the nearest measured batch is scaled to the run's); an experiment with a model that has no measured
    step or a task of unknown size gets NaN hours rather than a guess.
    """
    seen: set[Point] = set()
    rows = []
    for experiment, its_points in points.items():
        unique = set(its_points)
        new = unique - seen
        seen |= unique
        seconds = 0.0
        for p in new:
            if p.model not in steps or p.task not in sizes:
                seconds = float("nan")
                break
            b = batch_size(p.task)
            step = steps[p.model][min(steps[p.model], key=lambda measured: abs(measured - b))]
            seconds += run_gpu_seconds(*sizes[p.task], b, epochs, step)
        rows.append(
            {
                "experiment": experiment,
                "points": len(unique),
                "new_jobs": len(new),
                "gpu_hours": seconds / 3600,
            }
        )
    return pd.DataFrame(rows)
