"""Rule select_lr: the learning rate with the best mean dev score over seeds (ties: the smaller lr)."""

from pathlib import Path

import numpy as np
from _common import read_json, setup, write_json

log = setup(snakemake)  # noqa: F821 - injected by Snakemake
p = snakemake.params  # noqa: F821

by_run = {}
for path in snakemake.input:  # noqa: F821 - .../lr{lr}/seed{seed}/summary.json
    run_dir = Path(path).parent
    by_run[(run_dir.parent.name.removeprefix("lr"), int(run_dir.name.removeprefix("seed")))] = (run_dir, path)

grid, metric = [], None
for lr in p.lrs:
    scores, runs = {}, {}
    for seed in p.seeds:
        run_dir, path = by_run[(lr, int(seed))]
        summary = read_json(path)
        metric = summary["metric"]
        scores[str(seed)] = float(summary["best_dev_score"])
        runs[str(seed)] = str(run_dir)
    values = np.array(list(scores.values()))
    grid.append({"lr": float(lr), "lr_str": lr, "scores": scores, "runs": runs,
                 "mean": float(values.mean()), "std": float(values.std())})  # fmt: skip

best = max(grid, key=lambda g: (g["mean"], -g["lr"]))
selection = {
    "model": p.model, "task": p.task, "method": p.method, "metric": metric, "seeds": list(p.seeds),
    "best_lr": best["lr"], "best_lr_str": best["lr_str"], "dev_mean": best["mean"], "dev_std": best["std"],
    "dev_scores": best["scores"], "runs": best["runs"], "grid": grid,
    "std": "population (ddof=0) over seeds",
}  # fmt: skip
write_json(snakemake.output[0], selection)  # noqa: F821
log.info("%s %s %s: lr %s, dev %.2f ± %.2f", p.model, p.task, p.method, best["lr_str"], best["mean"], best["std"])
