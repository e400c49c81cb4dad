"""The §5 sweeps' tables: Figure 1's numbers (dev score against the initial sparsity, from the runs'
summaries) and Table 7 (the layer-wise sweep, from the learning-rate selections) beside the paper's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from maskbert.families import parse_blocks
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
from reproduction.sweeps import block_direction, canonical_blocks, layerwise_item


# ------------------------------------------------------------------------------------------------------
# Figure 1's numbers (§5.1): dev score against initial sparsity, from per-run summaries
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


# ------------------------------------------------------------------------------------------------------
# Table 7 (§5.2, App. D.1): the layer-wise sweep, from learning-rate selections
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
