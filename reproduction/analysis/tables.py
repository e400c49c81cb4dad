"""The analyses' tables (Table 3 and the tables beside Figures 4-7), from their tidy results.

Pandas only, no torch: the workflow's table rules import this without loading a model library.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reproduction.report import Table, diff_or_nan, fmt, fmt_pm, model_name, paper_value, task_name


def table3(records: list[dict], paper: pd.DataFrame | None, paper_model: str = "bert-base-uncased") -> Table:
    """Table 3: improvement over the majority baseline, mean ± std over seeds, per (model, method, trained
    on, evaluated on), beside the paper's; the test-set transfer (IMDB in the paper) as accuracy.

    Rows whose evaluated split is not a dev split are reported as accuracy (the paper's IMDB numbers), the
    others as improvement. Paper numbers exist for BERT only (`paper_model`), matched by task name.
    """
    if not records:
        raise ValueError("Table 3: no evaluations to tabulate")
    df = pd.DataFrame(records)
    rows, shown = [], []
    keys = ["model", "method", "train_task", "eval_task", "split"]
    for (model, method, train_task, eval_task, split), group in df.groupby(keys, sort=False):
        transfer = split != "dev"
        quantity = "accuracy" if transfer else "improvement"
        values = group[quantity].to_numpy(dtype=float)
        mean, std = float(values.mean()), float(values.std(ddof=0))  # population std, as every table
        paper_model_match = model in (paper_model, paper_model.split("/")[-1])
        paper_number = (
            paper_value(
                paper, quantity, table="3", model=paper_model, method=method, task=eval_task, item=train_task
            )
            if paper_model_match
            else float("nan")
        )
        majority = float(group["majority"].iloc[0])
        paper_majority = (
            paper_value(paper, "majority_baseline", table="3", task=eval_task)
            if paper_model_match
            else float("nan")
        )
        rows.append(
            {
                "model": model,
                "method": method,
                "train_task": train_task,
                "eval_task": eval_task,
                "split": split,
                "quantity": quantity,
                "seeds": len(values),
                "ours": mean,
                "ours_std": std,
                "paper": paper_number,
                "diff": diff_or_nan(mean, paper_number),
                "majority": majority,
                "majority_paper": paper_majority,
            }
        )
        shown.append(
            {
                "Model": model_name(model),
                "Method": method,
                "Trained on": task_name(train_task),
                "Evaluated on": f"{task_name(eval_task)} {split}",
                "Quantity": "accuracy" if transfer else "Δ vs majority",
                "Ours": fmt_pm(mean, std),
                "Paper": fmt(paper_number, 2 if transfer else 1),
                "Majority (ours / paper)": f"{fmt(majority)} / {fmt(paper_majority)}",
            }
        )
    caption = (
        "Table 3: generalisation, accuracy minus the majority-class baseline of the evaluated dev set "
        "(%, mean ± population std over seeds; row: training task); the test-set rows give accuracy (the paper's "
        "IMDB transfer: masking 84.79, finetuning 85.25)"
    )
    return Table("table3_generalization", caption, pd.DataFrame(rows), pd.DataFrame(shown))


def figure4_table(records: list[dict]) -> Table:
    """Probe accuracy per (model, task, kind): records {model, task, seed, kind, fold_scores}."""
    data, display = [], []
    for record in records:
        scores = np.asarray(record["fold_scores"], dtype=float)
        mean, std = float(scores.mean()), float(scores.std(ddof=0))  # population std, as every table
        data.append(
            {
                "model": record["model"],
                "task": record["task"],
                "seed": record["seed"],
                "representation": record["kind"],
                "folds": len(scores),
                "probe_accuracy": mean,
                "probe_accuracy_std": std,
            }
        )
        display.append(
            {
                "Model": model_name(record["model"]),
                "Task": task_name(record["task"]),
                "Seed": record["seed"],
                "[CLS] of": record["kind"],
                "Probe accuracy": fmt_pm(mean, std),
            }
        )
    caption = (
        "Figure 4's table: cross-validated accuracy (%, mean ± population std over folds) of a logistic-regression "
        "probe on the top block's [CLS] vectors; the paper gives no number, only that pretrained "
        "vectors are not separable and finetuned and masked ones almost linearly separable"
    )
    return Table("figure4_probe", caption, pd.DataFrame(data), pd.DataFrame(display))


def figure5_table(scores: pd.DataFrame, model: str) -> Table:
    """s per block, averaged over layer types and over the compared pairs (and seeds)."""
    per_block = scores.groupby(["comparison", "block"])["s"].mean().unstack("comparison")
    per_block = per_block.reindex(columns=["tasks", "seeds"])
    data = pd.DataFrame(
        {
            "model": model,
            "block": per_block.index,
            "s_tasks": per_block["tasks"].to_numpy(),
            "s_seeds": per_block["seeds"].to_numpy(),
        }
    )
    display = pd.DataFrame(
        {
            "Model": model_name(model),
            "Block": data["block"],
            "s, two tasks (same seed)": [fmt(v, 3) for v in data["s_tasks"]],
            "s, two seeds (same task)": [fmt(v, 3) for v in data["s_seeds"]],
        }
    )
    caption = (
        "Figure 5's table: mask dissimilarity s per transformer block, averaged over layer types "
        "(K, Q, V, AO, I, O) and compared pairs; the paper reports (for BERT, figure only) that s grows "
        "with depth and that masks of different tasks, and of different seeds, are dissimilar"
    )
    return Table("figure5_mask_dissimilarity", caption, data, display)


def path_table(rows: pd.DataFrame, position: str, name: str, caption: str) -> Table:
    """Per (model, task, path): the score at both ends, the lowest score between them and where it lies,
    each the mean over seeds. `position` names the path coordinate column (gamma or t)."""
    data, display = [], []
    for (model, task, path), group in rows.groupby(["model", "task", "path"], sort=False):
        per_seed = group.groupby("seed")
        start = per_seed.apply(lambda g: g.loc[g[position].idxmin(), "score"]).mean()
        end = per_seed.apply(lambda g: g.loc[g[position].idxmax(), "score"]).mean()
        lowest = per_seed["score"].min().mean()
        where = per_seed.apply(lambda g: g.loc[g["score"].idxmin(), position]).mean()
        data.append(
            {
                "model": model,
                "task": task,
                "path": path,
                "seeds": per_seed.ngroups,
                "start": start,
                "end": end,
                "min": lowest,
                f"argmin_{position}": where,
                "drop": min(start, end) - lowest,
            }
        )
        display.append(
            {
                "Model": model_name(model),
                "Task": task_name(task),
                "Path": path,
                "Seeds": per_seed.ngroups,
                "Start": fmt(start),
                "End": fmt(end),
                "Lowest": fmt(lowest),
                f"at {position}": fmt(where, 2),
                "Drop below the lower end": fmt(min(start, end) - lowest),
            }
        )
    return Table(name, caption, pd.DataFrame(data), pd.DataFrame(display))


def figure6_table(rows: pd.DataFrame) -> Table:
    caption = (
        "Figure 6's table: dev score (%) along the line W(γ) = W0 + γ(W1 − W0), mean over seeds; the paper "
        "reports (figure only) that the finetuned → masked line keeps a high accuracy all along, while the "
        "lines from the pretrained model pass through low accuracy"
    )
    return path_table(rows, "gamma", "figure6_mode_connectivity", caption)


def figure7_table(rows: pd.DataFrame) -> Table:
    caption = (
        "Figure 7's table: dev score (%) along the trained 3-bend Bézier curve and the line segment "
        "between the finetuned (t=0) and the masked (t=1) model, mean over seeds; the paper reports (figure "
        "only) that the Bézier curve also connects the two minima with high accuracy"
    )
    return path_table(rows, "t", "figure7_bezier", caption)


def bezier_rows(result: dict, model: str, task: str, seed: int) -> list[dict]:
    """bezier_connectivity's result as tidy rows {model, task, seed, path (bezier|line), t, score, metric}."""
    return [
        {
            "model": model,
            "task": task,
            "seed": seed,
            "path": path,
            "t": t,
            "score": s,
            "metric": result["metric"],
        }
        for path in ("bezier", "line")
        for t, s in zip(result["t"], result["curve" if path == "bezier" else path])
    ]
