"""Learning-rate selection on dev (paper §4): the best mean dev score over seeds, ties to the smaller rate,
and the grid-border rule: when the best rate is the smallest or largest of the grid searched, the next value
of the 1-3-5-7-9 sequence beyond it is trained too, and the selection is made again."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

MANTISSAS = (1, 3, 5, 7, 9)


def configured_grid(learning_rates: Mapping, model: str, task: str, method: str) -> list[float]:
    """The learning rates first searched for (model, task, method), sorted: config `learning_rates.<method>`,
    replaced by the last override whose given keys (model, task, method) all match."""
    grid = learning_rates[method]
    for override in learning_rates.get("overrides") or []:
        if all(
            override.get(k) in (None, v) for k, v in (("model", model), ("task", task), ("method", method))
        ):
            grid = override["values"]
    return sorted(float(lr) for lr in grid)


def next_lr_beyond(lr: float, direction: int) -> float:
    """The value of the sequence ..., 7e-6, 9e-6, 1e-5, 3e-5, ... strictly above (direction > 0) or below
    (direction < 0) `lr`; 1e-3 -> 3e-3, 1e-5 -> 9e-6, 2.5e-5 -> 3e-5 / 1e-5."""
    exponent = math.floor(math.log10(lr))
    candidates = sorted(float(f"{m}e{e}") for e in range(exponent - 1, exponent + 2) for m in MANTISSAS)
    if direction > 0:
        return next(c for c in candidates if c > lr * (1 + 1e-9))
    return next(c for c in reversed(candidates) if c < lr * (1 - 1e-9))


def select_round(records: Sequence[Mapping], round_index: int, max_extensions: int) -> dict:
    """Decide one selection round from its runs.

    `records` has one entry per run: lr, seed, run (directory), score (best dev score), metric. Returns the
    grid (mean and population std over seeds per lr), the best lr (ties: the smaller), whether it lies on
    the grid's border, and `next_lrs`: the values to add before selecting again (empty when the best is
    inside the grid or `max_extensions` rounds have been added already).
    """
    by_lr: dict[float, list[Mapping]] = {}
    for record in records:
        by_lr.setdefault(float(record["lr"]), []).append(record)
    seeds = sorted({int(r["seed"]) for r in records})
    grid = []
    for lr in sorted(by_lr):
        runs = sorted(by_lr[lr], key=lambda r: int(r["seed"]))
        if [int(r["seed"]) for r in runs] != seeds:
            raise ValueError(f"lr {lr}: runs for seeds {[r['seed'] for r in runs]}, expected {seeds}")
        scores = np.array([float(r["score"]) for r in runs])
        grid.append(
            {
                "lr": lr,
                "mean": float(scores.mean()),
                "std": float(scores.std()),
                "scores": {str(r["seed"]): float(r["score"]) for r in runs},
                "runs": {str(r["seed"]): str(r["run"]) for r in runs},
            }
        )
    if not grid:
        raise ValueError("no runs to select from")
    best = max(grid, key=lambda g: (g["mean"], -g["lr"]))
    lrs = [g["lr"] for g in grid]
    border = [side for side, lr in (("lower", min(lrs)), ("upper", max(lrs))) if best["lr"] == lr]
    next_lrs = []
    if round_index < max_extensions:
        next_lrs = sorted(next_lr_beyond(best["lr"], +1 if side == "upper" else -1) for side in border)
    metrics = {r["metric"] for r in records}
    return {
        "round": round_index,
        "grid_lrs": lrs,
        "seeds": seeds,
        "metric": metrics.pop() if len(metrics) == 1 else None,
        "best_lr": best["lr"],
        "dev_mean": best["mean"],
        "dev_std": best["std"],
        "dev_scores": best["scores"],
        "runs": best["runs"],
        "border": border,
        "next_lrs": next_lrs,
        "grid": grid,
        "std": "population (ddof=0) over seeds",
    }
