"""The memory tables beside the paper's: Table 2's memory column (one model or an ensemble served) and
Table 8 / Figure 3's accumulated parameters and MB against the number of tasks. The counts themselves are
maskbert.memory's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from reproduction.report import (
    PAPER_TASK_ORDER,
    Table,
    diff_or_nan,
    fmt,
    is_missing,
    model_name,
    paper_value,
    task_name,
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
