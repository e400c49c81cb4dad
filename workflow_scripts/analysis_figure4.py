"""Rule figure4: the t-SNE panels and the probe table."""

from _common import read_json, setup

log = setup(snakemake)

import numpy as np

from reproduction.analysis.plots import figure4
from reproduction.analysis.tables import figure4_table
from reproduction.report import write_table

results = [read_json(path) for path in snakemake.input]
panels, records = [], []
for result in results:
    for kind, panel in result["panels"].items():
        common = {"model": result["model"], "task": result["task"], "seed": result["seed"], "kind": kind}
        records.append({**common, "fold_scores": panel["probe_folds"]})
        panels.append(
            {
                **common,
                "points": panel["points"],
                "labels": result["labels"],
                "label_names": result["label_names"],
                "probe": float(np.mean(panel["probe_folds"])),
            }
        )
out = snakemake.output
figure4(panels, out.figure)
write_table(figure4_table(records), out.table)
log.info("Figure 4: %d panels", len(panels))
