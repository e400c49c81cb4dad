"""The paper's tables and Figure 3 from the workflow's results, each beside the paper's published numbers.

Every builder returns a :class:`Table`: ``data`` (tidy, numeric: one row per cell of the paper's table,
``ours``, ``paper`` and ``diff = ours - paper``) and ``display`` (the same rows formatted for reading).
:func:`write_table` writes ``data`` as CSV and ``display`` as Markdown and LaTeX. The paper's numbers come
from a long table (``resources/paper_results.csv`` in the workflow): columns table, model, method, kind,
task, item, quantity, value, unit. A cell the paper does not have (another model, a synthetic task) is
empty in ``paper`` and ``diff``.

This module has no Snakemake dependency; the workflow scripts only load JSON and call it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

MODEL_NAMES = {
    "bert-base-uncased": "BERT",
    "roberta-base": "RoBERTa",
    "distilbert-base-uncased": "DistilBERT",
    "sentence-transformers/all-MiniLM-L6-v2": "MiniLM-L6",
    "all-MiniLM-L6-v2": "MiniLM-L6",
}
PAPER_TASK_ORDER = ("mrpc", "sst2", "cola", "rte", "qnli", "sem", "trec", "ag", "pos", "ner", "swag")


@dataclass
class Table:
    name: str
    caption: str
    data: pd.DataFrame
    display: pd.DataFrame


# ------------------------------------------------------------------------------------------------------
# Formatting and writing
# ------------------------------------------------------------------------------------------------------
def model_name(model: str) -> str:
    return MODEL_NAMES.get(model, model.split("/")[-1])


def task_name(task: str) -> str:
    try:
        from maskbert.data import get_task

        return get_task(task).display_name
    except Exception:  # noqa: BLE001 - a name outside the registry is shown as is
        return task


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def fmt(value, digits: int = 1, signed: bool = False) -> str:
    """A number for display; missing values as an en dash."""
    if _is_missing(value):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{value:+,d}" if signed else f"{value:,d}"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def fmt_lr(value) -> str:
    if _is_missing(value):
        return "–"
    mantissa, exponent = f"{float(value):e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def fmt_pm(mean, std, digits: int = 1) -> str:
    if _is_missing(mean):
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if not _is_missing(std) else f"{mean:.{digits}f}"


def to_markdown(df: pd.DataFrame, caption: str | None = None) -> str:
    def cell(v) -> str:
        return ("–" if _is_missing(v) else str(v)).replace("|", "\\|").replace("\n", " ")

    lines = []
    if caption:
        lines += [f"**{caption}**", ""]
    lines.append("| " + " | ".join(cell(c) for c in df.columns) + " |")
    lines.append("| " + " | ".join("---" for _ in df.columns) + " |")
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}  # fmt: skip


def latex_escape(text: str) -> str:
    out = "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))
    return out.replace("±", r"$\pm$").replace("–", "--").replace("Δ", r"$\Delta$").replace("×", r"$\times$")


def to_latex(df: pd.DataFrame, caption: str | None = None, label: str | None = None) -> str:
    """A booktabs table (needs \\usepackage{booktabs})."""
    align = "".join("r" if _numeric_looking(df[c]) else "l" for c in df.columns)
    lines = [r"\begin{table}[t]", r"\centering", r"\small"]
    lines.append(rf"\begin{{tabular}}{{{align}}}")
    lines.append(r"\toprule")
    lines.append(" & ".join(latex_escape(c) for c in df.columns) + r" \\")
    lines.append(r"\midrule")
    for row in df.itertuples(index=False):
        lines.append(" & ".join(latex_escape("–" if _is_missing(v) else v) for v in row) + r" \\")
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    if caption:
        lines.append(rf"\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _numeric_looking(series: pd.Series) -> bool:
    """Right-align a column whose every shown value starts like a number (or is missing)."""
    values = ["–" if _is_missing(v) else str(v) for v in series]
    return any(v != "–" for v in values) and all(re.match(r"^(–$|[+-]?[0-9.])", v) for v in values)


def write_table(table: Table, paths: Iterable[str | Path]) -> list[Path]:
    """Write ``table`` to each path by suffix: .csv (numeric data), .md and .tex (display)."""
    written = []
    for path in map(Path, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".csv":
            # 12 significant digits: parameter counts (~1e9) and MB stay exact; 6 rounded Table 8's counts.
            table.data.to_csv(path, index=False, float_format="%.12g")
        elif path.suffix == ".md":
            path.write_text(to_markdown(table.display, table.caption))
        elif path.suffix == ".tex":
            path.write_text(to_latex(table.display, table.caption, label=f"tab:{table.name}"))
        else:
            raise ValueError(f"{path}: expected a .csv, .md or .tex path")
        written.append(path)
    return written


# ------------------------------------------------------------------------------------------------------
# The paper's numbers
# ------------------------------------------------------------------------------------------------------
def load_paper(path: str | Path) -> pd.DataFrame:
    """The long table of published numbers (comment lines start with #)."""
    df = pd.read_csv(path, comment="#", dtype={"table": str}, keep_default_na=False)
    df["value"] = pd.to_numeric(df["value"])
    return df


def paper_value(paper: pd.DataFrame | None, quantity: str, **match) -> float:
    """One published number, or NaN when the paper has none for this cell."""
    if paper is None:
        return float("nan")
    mask = paper["quantity"] == quantity
    for key, value in match.items():
        mask &= paper[key] == ("" if value is None else str(value))
    values = paper.loc[mask, "value"]
    return float(values.iloc[0]) if len(values) else float("nan")


def _diff(ours, paper):
    if _is_missing(ours) or _is_missing(paper):
        return float("nan")
    return float(ours) - float(paper)


# ------------------------------------------------------------------------------------------------------
# Table 1 (dev mean ± std) and Table 4 (selected learning rate) from the selections
# ------------------------------------------------------------------------------------------------------
def table1(selections: Sequence[Mapping], paper: pd.DataFrame | None = None) -> Table:
    """Dev score (mean ± std over seeds) at the selected learning rate, per (model, method, task)."""
    rows = []
    for s in selections:
        kw = {"table": "1", "model": s["model"], "method": s["method"], "task": s["task"]}
        p_mean, p_std = paper_value(paper, "dev_mean", **kw), paper_value(paper, "dev_std", **kw)
        rows.append({
            "model": s["model"], "method": s["method"], "task": s["task"], "metric": s["metric"],
            "lr": s["best_lr"], "n_seeds": len(s["dev_scores"]),
            "ours_mean": s["dev_mean"], "ours_std": s["dev_std"],
            "paper_mean": p_mean, "paper_std": p_std, "diff": _diff(s["dev_mean"], p_mean),
        })  # fmt: skip
    data = pd.DataFrame(rows)
    display = pd.DataFrame({
        "Model": data["model"].map(model_name), "Method": data["method"].str.capitalize(),
        "Task": data["task"].map(task_name), "Metric": data["metric"],
        "Ours": [fmt_pm(m, s) for m, s in zip(data["ours_mean"], data["ours_std"])],
        "Paper": [fmt_pm(m, s) for m, s in zip(data["paper_mean"], data["paper_std"])],
        "Δ": [fmt(d, signed=True) for d in data["diff"]],
        "lr": data["lr"].map(fmt_lr), "Seeds": data["n_seeds"],
    })  # fmt: skip
    return Table("table1_dev", "Table 1: dev performance (%) of masking and finetuning, mean ± std over seeds "
                 "at the learning rate selected on dev; Δ = ours - paper.", data, display)


def table4(selections: Sequence[Mapping], paper: pd.DataFrame | None = None) -> Table:
    """The learning rate with the best mean dev score, beside Table 4's."""
    rows = []
    for s in selections:
        grid = [g["lr"] for g in s["grid"]]
        p_lr = paper_value(paper, "best_lr", table="4", model=s["model"], method=s["method"], task=s["task"])
        ours = float(s["best_lr"])
        rows.append({
            "model": s["model"], "method": s["method"], "task": s["task"], "ours_lr": ours, "paper_lr": p_lr,
            "same": (not math.isnan(p_lr)) and math.isclose(ours, p_lr, rel_tol=1e-9),
            "diff_log10": float(np.log10(ours / p_lr)) if not math.isnan(p_lr) else float("nan"),
            "grid_min": min(grid), "grid_max": max(grid), "n_grid": len(grid),
            "on_grid_border": len(grid) > 1 and ours in (min(grid), max(grid)),
            "dev_mean": s["dev_mean"],
        })  # fmt: skip
    data = pd.DataFrame(rows)
    display = pd.DataFrame({
        "Model": data["model"].map(model_name), "Method": data["method"].str.capitalize(),
        "Task": data["task"].map(task_name), "Ours": data["ours_lr"].map(fmt_lr),
        "Paper": data["paper_lr"].map(fmt_lr), "Same": data["same"].map(fmt),
        "Δ log10": [fmt(d, 2, signed=True) for d in data["diff_log10"]],
        "Grid": [f"{fmt_lr(a)}..{fmt_lr(b)} ({n})" for a, b, n in zip(data["grid_min"], data["grid_max"],
                                                                      data["n_grid"])],
        "On border": data["on_grid_border"].map(fmt),
    })  # fmt: skip
    return Table("table4_best_lr", "Table 4: learning rate with the best mean dev score over seeds (ours) and "
                 "the paper's; Δ log10 = log10(ours / paper).", data, display)


# ------------------------------------------------------------------------------------------------------
# Tables 2 and 6: test error, single models and ensembles, with memory
# ------------------------------------------------------------------------------------------------------
def paper_table_of(model: str) -> str:
    return "2" if model == "bert-base-uncased" else "6"


def table2_6(ensembles: Sequence[Mapping], paper: pd.DataFrame | None = None) -> Table:
    """Test error (%) of single models (mean ± std over seeds) and of the ensemble picked on dev."""
    rows = []
    for e in ensembles:
        single = np.asarray(e["single"]["test"], dtype=float)
        errors = 100.0 - single
        base = {"model": e["model"], "method": e["method"], "task": e["task"], "metric": e["metric"],
                "lr": e["selected_lr"], "n_seeds": len(single)}  # fmt: skip
        for kind, ours, std, method, memory in (
            ("single", float(errors.mean()), float(errors.std()), "", e["memory_mb"]["single"]),
            ("ensemble", 100.0 - float(e["test"]), float("nan"), e["selected"], e["memory_mb"]["ensemble"]),
        ):
            p = paper_value(paper, "test_error", table=paper_table_of(e["model"]), model=e["model"],
                            method=e["method"], kind=kind, task=e["task"])  # fmt: skip
            rows.append({**base, "kind": kind, "ours_error": ours, "ours_std": std, "paper_error": p,
                         "diff": _diff(ours, p), "ensemble_method": method, "memory_mb": memory,
                         "paper_table": paper_table_of(e["model"])})  # fmt: skip
    data = pd.DataFrame(rows)
    if len(data):  # the paper's layout: per model, masking then finetuning, single then ensemble
        data["_m"] = data["method"].map({"masking": 0, "finetuning": 1})
        data["_k"] = data["kind"].map({"single": 0, "ensemble": 1})
        data["_model"] = data["model"].map({m: i for i, m in enumerate(dict.fromkeys(data["model"]))})
        data = data.sort_values(["_model", "_m", "_k"], kind="stable").drop(columns=["_m", "_k", "_model"])
        data = data.reset_index(drop=True)
    display = pd.DataFrame({
        "Model": data["model"].map(model_name), "Method": data["method"].str.capitalize(),
        "Kind": data["kind"].map({"single": "Single", "ensemble": "Ensem."}), "Task": data["task"].map(task_name),
        "Ours": [fmt_pm(m, s, 2) for m, s in zip(data["ours_error"], data["ours_std"])],
        "Paper": [fmt(p, 2) for p in data["paper_error"]], "Δ": [fmt(d, 2, signed=True) for d in data["diff"]],
        "Ensemble": data["ensemble_method"], "Memory (MB)": [fmt(m, 0) for m in data["memory_mb"]],
    }) if len(data) else pd.DataFrame()  # fmt: skip
    return Table("table2_table6_test_error", "Tables 2 and 6: test error (%) of single models (mean ± std "
                 "over seeds) and of their ensemble (method picked on dev); memory to serve them; "
                 "Δ = ours - paper.", data, display)


def table2_memory(rows: Sequence[Mapping], paper: pd.DataFrame | None = None) -> Table:
    """Table 2's memory column: rows with model, method, kind, members, num_labels, memory_mb."""
    out = []
    for r in rows:
        p = paper_value(paper, "memory_mb", table="2", model=r["model"], method=r["method"], kind=r["kind"])
        out.append({**r, "paper_mb": p, "diff": _diff(r["memory_mb"], p)})
    data = pd.DataFrame(out)
    display = pd.DataFrame({
        "Model": data["model"].map(model_name), "Method": data["method"].str.capitalize(),
        "Kind": data["kind"].map({"single": "Single", "ensemble": "Ensem."}), "Members": data["members"],
        "Ours (MB)": [fmt(v, 1) for v in data["memory_mb"]], "Paper (MB)": [fmt(v, 0) for v in data["paper_mb"]],
        "Δ": [fmt(v, 1, signed=True) for v in data["diff"]],
    })  # fmt: skip
    return Table("table2_memory", "Table 2, memory column: MB to serve one model or the ensemble of the seeds "
                 "(binary classifier, as the paper counts it); Δ = ours - paper.", data, display)


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
        row = {"model": model, "task": task, "unit": unit, "source": s.get("source"),
               "train_examples": s["splits"].get("train", {}).get("examples")}  # fmt: skip
        row["paper_train_approx"] = paper_value(paper, "train_size_approx", table="1", task=task)
        for split in ("dev", "test"):
            ours = s.get("table5", {}).get(split)
            # The dataset's size, for every model (the paper's rows are BERT's).
            p = paper_value(paper, f"{split}_size", table="5", task=task)
            trunc = s["splits"].get(split, {}).get("truncation", {})
            row.update({
                f"{split}_ours": ours, f"{split}_paper": p, f"{split}_diff": _diff(ours, p),
                f"{split}_truncated": trunc.get("examples_truncated"),
                f"{split}_truncated_paper": paper_value(paper, f"{split}_truncated_sentences", table="5",
                                                        model=model, task=task),
                f"{split}_words_dropped": trunc.get("words_dropped"),
                f"{split}_words_dropped_paper": paper_value(paper, f"{split}_truncated_words", table="5",
                                                            model=model, task=task),
            })  # fmt: skip
        rows.append(row)
    data = pd.DataFrame(rows)

    def num(v):
        return fmt(int(v)) if not _is_missing(v) else "–"

    display = pd.DataFrame({
        "Model": data["model"].map(model_name), "Task": data["task"].map(task_name), "Unit": data["unit"],
        "Dev": data["dev_ours"].map(num), "Dev (paper)": data["dev_paper"].map(num),
        "Test": data["test_ours"].map(num), "Test (paper)": data["test_paper"].map(num),
        "Δ dev/test": [f"{fmt(a, 0, signed=True)}/{fmt(b, 0, signed=True)}"
                       for a, b in zip(data["dev_diff"], data["test_diff"])],
        "Truncated dev/test": [f"{num(a)}/{num(b)}" for a, b in zip(data["dev_truncated"], data["test_truncated"])],
        "(paper)": [f"{num(a)}/{num(b)}" for a, b in zip(data["dev_truncated_paper"],
                                                          data["test_truncated_paper"])],
        "Words dropped dev/test": [f"{num(a)}/{num(b)}" for a, b in zip(data["dev_words_dropped"],
                                                                        data["test_words_dropped"])],
        "(paper) ": [f"{num(a)}/{num(b)}" for a, b in zip(data["dev_words_dropped_paper"],
                                                           data["test_words_dropped_paper"])],
        "Train": data["train_examples"].map(num),
    })  # fmt: skip
    return Table("table5_split_sizes", "Table 5: examples in dev and test (words for POS/NER, after "
                 "truncation to the max length), and what truncation removed (examples over the max length; "
                 "annotated words dropped); the paper's sizes are shown for every model (its word counts are "
                 "after BERT's truncation), its truncation counts for BERT only.", data, display)


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
        totals[method] = {q: float(base.loc[base["quantity"] == q, "value"].iloc[0])
                          for q in ("params_added", "memory_kb_added")}  # fmt: skip
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
                    row[f"{method}_{unit}_diff"] = _diff(ours, p)
            rows.append(row)
    data = pd.DataFrame(rows)

    def mparams(v):
        return "–" if _is_missing(v) else f"{v / 1e6:,.2f}M"

    display = pd.DataFrame({
        "Model": data["model"].map(model_name), "Tasks": data["n_tasks"], "+ Task": data["task"].map(task_name),
        "Finetuning params": data["finetuning_params"].map(mparams),
        "(paper)": data["finetuning_params_paper"].map(mparams),
        "Masking params": data["masking_params"].map(mparams),
        "(paper) ": data["masking_params_paper"].map(mparams),
        "Finetuning MB": [fmt(v, 1) for v in data["finetuning_mb"]],
        "(paper)  ": [fmt(v, 1) for v in data["finetuning_mb_paper"]],
        "Masking MB": [fmt(v, 1) for v in data["masking_mb"]],
        "(paper)   ": [fmt(v, 1) for v in data["masking_mb_paper"]],
        "Δ MB ft/mask": [f"{fmt(a, 1, signed=True)}/{fmt(b, 1, signed=True)}"
                         for a, b in zip(data["finetuning_mb_diff"], data["masking_mb_diff"])],
    })  # fmt: skip
    return Table("table8_memory", "Table 8 / Figure 3: parameters and memory (MB) accumulated over an "
                 "increasing number of tasks, finetuning vs masking; the paper's numbers are BERT-base's.",
                 data, display)


def figure3(table: Table, paths: Iterable[str | Path]) -> list[Path]:
    """Figure 3: accumulated parameters (millions) and MB against the number of tasks, per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = table.data
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    colors = {"finetuning": "tab:blue", "masking": "tab:red"}
    for model, group in data.groupby("model", sort=False):
        for method in ("finetuning", "masking"):
            for ax, unit, scale in ((axes[0], "params", 1e6), (axes[1], "mb", 1.0)):
                ax.plot(group["n_tasks"], group[f"{method}_{unit}"] / scale, marker="o", color=colors[method],
                        label=f"{method.capitalize()} ({model_name(model)})",
                        linestyle="-" if model == data["model"].iloc[0] else "--")  # fmt: skip
                paper = group[f"{method}_{unit}_paper"]
                if paper.notna().any():
                    ax.scatter(group["n_tasks"], paper / scale, marker="x", s=50, color="black", zorder=3,
                               label=f"{method.capitalize()}, paper" if ax is axes[0] else None)  # fmt: skip
    first = data[data["model"] == data["model"].iloc[0]] if len(data) else data
    for ax, ylabel in ((axes[0], "parameters (millions)"), (axes[1], "memory (MB)")):
        ax.set_xlabel("number of tasks")
        ax.set_ylabel(ylabel)
        ax.set_xticks(list(first["n_tasks"]))
        ax.set_xticklabels([f"{n}\n{task_name(t)}" for n, t in zip(first["n_tasks"], first["task"])], fontsize=7)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].legend(handles, labels, fontsize=8)
    fig.suptitle("Accumulated parameters and memory to solve an increasing number of tasks")
    fig.tight_layout()
    written = []
    for path in map(Path, paths):
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)
        written.append(path)
    plt.close(fig)
    return written
