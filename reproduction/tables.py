"""The paper's Tables 1, 4, 5 and 2/6 (test error) from the main grid's selections, ensembles and data stats,
each beside the published numbers (memory: reproduction.memory_tables; the §5 sweeps:
reproduction.sweep_tables).

Each builder returns a :class:`reproduction.report.Table`; see that module for the data/display split.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from maskbert.ensemble import error_rate
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
