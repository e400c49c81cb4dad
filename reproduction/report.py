"""Shared by the paper's tables and figures: the Table record, number formatting, CSV/Markdown/LaTeX
writers and the paper's published numbers.

Every table builder (reproduction.tables, memory_tables, sweep_tables and the experiment modules) returns a :class:`Table`: ``data`` (tidy, numeric: one row per cell of the paper's table,
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
from collections.abc import Iterable
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
    except Exception:
        return task


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def fmt(value, digits: int = 1, signed: bool = False) -> str:
    """A number for display; missing values as an en dash."""
    if is_missing(value):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{value:+,d}" if signed else f"{value:,d}"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def fmt_lr(value) -> str:
    if is_missing(value):
        return "–"
    mantissa, exponent = f"{float(value):e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def fmt_pm(mean, std, digits: int = 1) -> str:
    if is_missing(mean):
        return "–"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if not is_missing(std) else f"{mean:.{digits}f}"


def to_markdown(df: pd.DataFrame, caption: str | None = None) -> str:
    def cell(v) -> str:
        return ("–" if is_missing(v) else str(v)).replace("|", "\\|").replace("\n", " ")

    lines = []
    if caption:
        lines += [f"**{caption}**", ""]
    lines.append("| " + " | ".join(cell(c) for c in df.columns) + " |")
    lines.append("| " + " | ".join("---" for _ in df.columns) + " |")
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


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
        lines.append(" & ".join(latex_escape("–" if is_missing(v) else v) for v in row) + r" \\")
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
    values = ["–" if is_missing(v) else str(v) for v in series]
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


def diff_or_nan(ours, paper):
    if is_missing(ours) or is_missing(paper):
        return float("nan")
    return float(ours) - float(paper)
