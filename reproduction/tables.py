"""The paper's Tables 1, 2, 4, 5, 6, 7 and 8 and Figure 1's numbers from the workflow's results, each beside the published numbers.

Each builder returns a :class:`reproduction.report.Table`; see that module for the data/display split.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from maskbert.ensemble import error_rate
from maskbert.families import parse_blocks
from reproduction.report import (
    PAPER_TASK_ORDER,
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

# Where today's datasets differ from the paper's copies (maskbert/data/README.md).
DATASET_VERSIONS = (
    "QNLI: the hub's GLUE QNLI is v2 (~105k train, 5,463 dev); the paper used v1 (108k train, "
    "5,732 dev). CoLA: GLUE's dev has 1,043 sentences, the paper reports 1,042."
)


# ------------------------------------------------------------------------------------------------------
# Table 1 (dev mean ± std) and Table 4 (selected learning rate) from the selections
# ------------------------------------------------------------------------------------------------------
def table1(selections: Sequence[Mapping], paper: pd.DataFrame | None = None) -> Table:
    """Dev score (mean ± std over seeds) at the selected learning rate, per (model, method, task)."""
    rows = []
    for s in selections:
        kw = {"table": "1", "model": s["model"], "method": s["method"], "task": s["task"]}
        p_mean, p_std = paper_value(paper, "dev_mean", **kw), paper_value(paper, "dev_std", **kw)
        rows.append(
            {
                "model": s["model"],
                "method": s["method"],
                "task": s["task"],
                "metric": s["metric"],
                "lr": s["best_lr"],
                "n_seeds": len(s["dev_scores"]),
                "ours_mean": s["dev_mean"],
                "ours_std": s["dev_std"],
                "paper_mean": p_mean,
                "paper_std": p_std,
                "diff": diff_or_nan(s["dev_mean"], p_mean),
            }
        )
    data = pd.DataFrame(rows)
    display = pd.DataFrame(
        {
            "Model": data["model"].map(model_name),
            "Method": data["method"].str.capitalize(),
            "Task": data["task"].map(task_name),
            "Metric": data["metric"],
            "Ours": [fmt_pm(m, s) for m, s in zip(data["ours_mean"], data["ours_std"])],
            "Paper": [fmt_pm(m, s) for m, s in zip(data["paper_mean"], data["paper_std"])],
            "Δ": [fmt(d, signed=True) for d in data["diff"]],
            "lr": data["lr"].map(fmt_lr),
            "Seeds": data["n_seeds"],
        }
    )
    return Table(
        "table1_dev",
        "Table 1: dev performance (%) of masking and finetuning, mean ± std over seeds "
        "at the learning rate selected on dev; Δ = ours - paper. " + DATASET_VERSIONS,
        data,
        display,
    )


def table4(selections: Sequence[Mapping], paper: pd.DataFrame | None = None) -> Table:
    """The learning rate with the best mean dev score, beside Table 4's."""
    rows = []
    for s in selections:
        grid = [g["lr"] for g in s["grid"]]
        p_lr = paper_value(paper, "best_lr", table="4", model=s["model"], method=s["method"], task=s["task"])
        ours = float(s["best_lr"])
        rows.append(
            {
                "model": s["model"],
                "method": s["method"],
                "task": s["task"],
                "ours_lr": ours,
                "paper_lr": p_lr,
                "same": (not math.isnan(p_lr)) and math.isclose(ours, p_lr, rel_tol=1e-9),
                "diff_log10": float(np.log10(ours / p_lr)) if not math.isnan(p_lr) else float("nan"),
                "grid_min": min(grid),
                "grid_max": max(grid),
                "n_grid": len(grid),
                "on_grid_border": len(grid) > 1 and ours in (min(grid), max(grid)),
                "extensions": int(s.get("extensions", 0)),
                "dev_mean": s["dev_mean"],
            }
        )
    data = pd.DataFrame(rows)
    display = pd.DataFrame(
        {
            "Model": data["model"].map(model_name),
            "Method": data["method"].str.capitalize(),
            "Task": data["task"].map(task_name),
            "Ours": data["ours_lr"].map(fmt_lr),
            "Paper": data["paper_lr"].map(fmt_lr),
            "Same": data["same"].map(fmt),
            "Δ log10": [fmt(d, 2, signed=True) for d in data["diff_log10"]],
            "Grid": [
                f"{fmt_lr(a)}..{fmt_lr(b)} ({n})"
                for a, b, n in zip(data["grid_min"], data["grid_max"], data["n_grid"])
            ],
            "On border": data["on_grid_border"].map(fmt),
            "Extended": data["extensions"],
        }
    )
    return Table(
        "table4_best_lr",
        "Table 4: learning rate with the best mean dev score over seeds (ours) and "
        "the paper's; Δ log10 = log10(ours / paper). Extended: how many times §4's rule added the next "
        "1-3-5-7-9 value beyond a best rate on the grid's border; 'On border' is left when that "
        "budget (learning_rates.max_extensions) ran out.",
        data,
        display,
    )


# ------------------------------------------------------------------------------------------------------
# Tables 2 and 6: test error, single models and ensembles, with memory
# ------------------------------------------------------------------------------------------------------
def paper_table_of(model: str) -> str:
    return "2" if model == "bert-base-uncased" else "6"


def table2_6(ensembles: Sequence[Mapping], paper: pd.DataFrame | None = None) -> Table:
    """Test error (%) of single models (mean ± std over seeds) and of the ensemble picked on dev."""
    rows = []
    for e in ensembles:
        errors = np.asarray([error_rate(score) for score in e["single"]["test"]], dtype=float)
        base = {
            "model": e["model"],
            "method": e["method"],
            "task": e["task"],
            "metric": e["metric"],
            "lr": e["selected_lr"],
            "n_seeds": len(errors),
        }
        for kind, ours, std, method, memory in (
            ("single", float(errors.mean()), float(errors.std()), "", e["memory_mb"]["single"]),
            ("ensemble", error_rate(e["test"]), float("nan"), e["selected"], e["memory_mb"]["ensemble"]),
        ):
            p = paper_value(
                paper,
                "test_error",
                table=paper_table_of(e["model"]),
                model=e["model"],
                method=e["method"],
                kind=kind,
                task=e["task"],
            )
            rows.append(
                {
                    **base,
                    "kind": kind,
                    "ours_error": ours,
                    "ours_std": std,
                    "paper_error": p,
                    "diff": diff_or_nan(ours, p),
                    "ensemble_method": method,
                    "memory_mb": memory,
                    "paper_table": paper_table_of(e["model"]),
                }
            )
    data = pd.DataFrame(rows)
    if len(data):  # the paper's layout: per model, masking then finetuning, single then ensemble
        data["_m"] = data["method"].map({"masking": 0, "finetuning": 1})
        data["_k"] = data["kind"].map({"single": 0, "ensemble": 1})
        data["_model"] = data["model"].map({m: i for i, m in enumerate(dict.fromkeys(data["model"]))})
        data = data.sort_values(["_model", "_m", "_k"], kind="stable").drop(columns=["_m", "_k", "_model"])
        data = data.reset_index(drop=True)
    display = (
        pd.DataFrame(
            {
                "Model": data["model"].map(model_name),
                "Method": data["method"].str.capitalize(),
                "Kind": data["kind"].map({"single": "Single", "ensemble": "Ensem."}),
                "Task": data["task"].map(task_name),
                "Ours": [fmt_pm(m, s, 2) for m, s in zip(data["ours_error"], data["ours_std"])],
                "Paper": [fmt(p, 2) for p in data["paper_error"]],
                "Δ": [fmt(d, 2, signed=True) for d in data["diff"]],
                "Ensemble": data["ensemble_method"],
                "Memory (MB)": [fmt(m, 0) for m in data["memory_mb"]],
            }
        )
        if len(data)
        else pd.DataFrame()
    )
    return Table(
        "table2_table6_test_error",
        "Tables 2 and 6: test error (%) of single models (mean ± std "
        "over seeds) and of their ensemble (method picked on dev); memory to serve them; "
        "Δ = ours - paper.",
        data,
        display,
    )


def table2_memory(rows: Sequence[Mapping], paper: pd.DataFrame | None = None) -> Table:
    """Table 2's memory column: rows with model, method, kind, members, num_labels, memory_mb."""
    out = []
    for r in rows:
        p = paper_value(paper, "memory_mb", table="2", model=r["model"], method=r["method"], kind=r["kind"])
        out.append({**r, "paper_mb": p, "diff": diff_or_nan(r["memory_mb"], p)})
    data = pd.DataFrame(out)
    display = pd.DataFrame(
        {
            "Model": data["model"].map(model_name),
            "Method": data["method"].str.capitalize(),
            "Kind": data["kind"].map({"single": "Single", "ensemble": "Ensem."}),
            "Members": data["members"],
            "Ours (MB)": [fmt(v, 1) for v in data["memory_mb"]],
            "Paper (MB)": [fmt(v, 0) for v in data["paper_mb"]],
            "Δ": [fmt(v, 1, signed=True) for v in data["diff"]],
            "Masking, coded (MB)": [fmt(v, 1) for v in data.get("coded_mb", pd.Series([None] * len(data)))],
        }
    )
    return Table(
        "table2_memory",
        "Table 2, memory column: MB to serve one model or the ensemble of the seeds "
        "(binary classifier, as the paper counts it); Δ = ours - paper. Masking, coded: the same with "
        "each mask stored as its flips against the seeded initial mask, entropy-coded, at the rate "
        "measured on this model's selected runs (beyond the paper, which stores 1 bit per weight).",
        data,
        display,
    )


# ------------------------------------------------------------------------------------------------------
# Table 5: split sizes and truncation, from the data stage's stats.json
# ------------------------------------------------------------------------------------------------------
def table5(stats: Sequence[tuple[str, Mapping]], paper: pd.DataFrame | None = None) -> Table:
    """Dev/test sizes (examples; words for tagging) and what the max length truncated, per (model, task).

    The paper's sizes (published for BERT) are shown beside every model's row: the number of dev/test
    examples does not depend on the tokenizer. Its truncation counts (App. A.5) are BERT's wordpieces', so
    they are matched on the model.
    """
    rows = []
    for model, s in stats:
        task = s["task"]
        unit = s.get("table5", {}).get("unit", "examples")
        row = {
            "model": model,
            "task": task,
            "unit": unit,
            "source": s.get("source"),
            "train_examples": s["splits"].get("train", {}).get("examples"),
        }
        row["paper_train_approx"] = paper_value(paper, "train_size_approx", table="1", task=task)
        for split in ("dev", "test"):
            ours = s.get("table5", {}).get(split)
            # The dataset's size, for every model (the paper's rows are BERT's).
            p = paper_value(paper, f"{split}_size", table="5", task=task)
            trunc = s["splits"].get(split, {}).get("truncation", {})
            row.update(
                {
                    f"{split}_ours": ours,
                    f"{split}_paper": p,
                    f"{split}_diff": diff_or_nan(ours, p),
                    f"{split}_truncated": trunc.get("examples_truncated"),
                    f"{split}_truncated_paper": paper_value(
                        paper, f"{split}_truncated_sentences", table="5", model=model, task=task
                    ),
                    f"{split}_words_dropped": trunc.get("words_dropped"),
                    f"{split}_words_dropped_paper": paper_value(
                        paper, f"{split}_truncated_words", table="5", model=model, task=task
                    ),
                }
            )
        rows.append(row)
    data = pd.DataFrame(rows)

    def num(v):
        return fmt(int(v)) if not is_missing(v) else "–"

    display = pd.DataFrame(
        {
            "Model": data["model"].map(model_name),
            "Task": data["task"].map(task_name),
            "Unit": data["unit"],
            "Dev": data["dev_ours"].map(num),
            "Dev (paper)": data["dev_paper"].map(num),
            "Test": data["test_ours"].map(num),
            "Test (paper)": data["test_paper"].map(num),
            "Δ dev/test": [
                f"{fmt(a, 0, signed=True)}/{fmt(b, 0, signed=True)}"
                for a, b in zip(data["dev_diff"], data["test_diff"])
            ],
            "Truncated dev/test": [
                f"{num(a)}/{num(b)}" for a, b in zip(data["dev_truncated"], data["test_truncated"])
            ],
            "(paper)": [
                f"{num(a)}/{num(b)}"
                for a, b in zip(data["dev_truncated_paper"], data["test_truncated_paper"])
            ],
            "Words dropped dev/test": [
                f"{num(a)}/{num(b)}" for a, b in zip(data["dev_words_dropped"], data["test_words_dropped"])
            ],
            "(paper) ": [
                f"{num(a)}/{num(b)}"
                for a, b in zip(data["dev_words_dropped_paper"], data["test_words_dropped_paper"])
            ],
            "Train": data["train_examples"].map(num),
        }
    )
    return Table(
        "table5_split_sizes",
        "Table 5: examples in dev and test (words for POS/NER, after "
        "truncation to the max length), and what truncation removed (examples over the max length; "
        "annotated words dropped); the paper's sizes are shown for every model (its word counts are "
        "after BERT's truncation), its truncation counts for BERT only. " + DATASET_VERSIONS,
        data,
        display,
    )


# ------------------------------------------------------------------------------------------------------
# Table 8 and Figure 3: accumulated parameters and memory against the number of tasks
# ------------------------------------------------------------------------------------------------------
def paper_accumulated(paper: pd.DataFrame | None, model: str = "bert-base-uncased") -> pd.DataFrame:
    """The paper's Table 8 accumulated over its task order: n_tasks, task, {method}_params, {method}_mb."""
    if paper is None:
        return pd.DataFrame()
    t8 = paper[(paper["table"] == "8") & (paper["model"] == model)]
    if t8.empty:
        return pd.DataFrame()
    rows, totals = [], {}
    for method in ("finetuning", "masking"):
        base = t8[(t8["method"] == method) & (t8["item"] == "pretrained")]
        totals[method] = {
            q: float(base.loc[base["quantity"] == q, "value"].iloc[0])
            for q in ("params_added", "memory_kb_added")
        }
    for n, task in enumerate(PAPER_TASK_ORDER, start=1):
        row = {"n_tasks": n, "task": task}
        for method in ("finetuning", "masking"):
            add = t8[(t8["method"] == method) & (t8["task"] == task)]
            if add.empty:
                return pd.DataFrame(rows)
            for q in ("params_added", "memory_kb_added"):
                totals[method][q] += float(add.loc[add["quantity"] == q, "value"].iloc[0])
            row[f"{method}_params"] = totals[method]["params_added"]
            row[f"{method}_mb"] = totals[method]["memory_kb_added"] / 1000
        rows.append(row)
    return pd.DataFrame(rows)


def table8(accumulated: Mapping[str, pd.DataFrame], paper: pd.DataFrame | None = None) -> Table:
    """Per model, the accumulated memory (from maskbert.memory.accumulated_memory) beside the paper's.

    The paper's column is filled where the model is BERT-base and the first n tasks are the paper's first n.
    """
    rows = []
    for model, acc in accumulated.items():
        ref = paper_accumulated(paper, model)
        tasks = list(acc["task"])
        for i, r in enumerate(acc.to_dict("records")):
            comparable = len(ref) > i and tasks[: i + 1] == list(ref["task"][: i + 1])
            row = {"model": model, "n_tasks": int(r["n_tasks"]), "task": r["task"]}
            for method in ("finetuning", "masking"):
                for unit in ("params", "mb"):
                    ours = float(r[f"{method}_{unit}"])
                    p = float(ref[f"{method}_{unit}"].iloc[i]) if comparable else float("nan")
                    row[f"{method}_{unit}"] = ours
                    row[f"{method}_{unit}_paper"] = p
                    row[f"{method}_{unit}_diff"] = diff_or_nan(ours, p)
            row["masking_coded_mb"] = float(
                r.get("masking_coded_mb", float("nan"))
            )  # no paper number: beyond it
            rows.append(row)
    data = pd.DataFrame(rows)

    def mparams(v):
        return "–" if is_missing(v) else f"{v / 1e6:,.2f}M"

    display = pd.DataFrame(
        {
            "Model": data["model"].map(model_name),
            "Tasks": data["n_tasks"],
            "+ Task": data["task"].map(task_name),
            "Finetuning params": data["finetuning_params"].map(mparams),
            "(paper)": data["finetuning_params_paper"].map(mparams),
            "Masking params": data["masking_params"].map(mparams),
            "(paper) ": data["masking_params_paper"].map(mparams),
            "Finetuning MB": [fmt(v, 1) for v in data["finetuning_mb"]],
            "(paper)  ": [fmt(v, 1) for v in data["finetuning_mb_paper"]],
            "Masking MB": [fmt(v, 1) for v in data["masking_mb"]],
            "(paper)   ": [fmt(v, 1) for v in data["masking_mb_paper"]],
            "Δ MB ft/mask": [
                f"{fmt(a, 1, signed=True)}/{fmt(b, 1, signed=True)}"
                for a, b in zip(data["finetuning_mb_diff"], data["masking_mb_diff"])
            ],
            "Masking, coded MB": [fmt(v, 1) for v in data["masking_coded_mb"]],
        }
    )
    return Table(
        "table8_memory",
        "Table 8 / Figure 3: parameters and memory (MB) accumulated over an "
        "increasing number of tasks, finetuning vs masking; the paper's numbers are BERT-base's. "
        "Masking, coded: each task's masks stored as their flips against the seeded initial masks, "
        "entropy-coded, at the bits per weight measured on the model's own selected runs (empty for "
        "a model the grid did not train).",
        data,
        display,
    )


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
