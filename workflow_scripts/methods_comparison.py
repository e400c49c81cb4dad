"""Rule methods_comparison: every compared method's dev and test score against the bytes its task stores."""

from pathlib import Path

from _common import read_json, setup

log = setup(snakemake)

from reproduction.comparison import methods_comparison, methods_comparison_figure
from reproduction.report import write_table

groups = []
for compared in snakemake.params.compared:
    selection = read_json(compared["selection"])
    runs = [Path(selection["runs"][str(seed)]) for seed in selection["seeds"]]  # the rule's summaries input
    groups.append(
        {
            "selection": selection,
            "summaries": [read_json(run / "summary.json") for run in runs],
            "tests": [read_json(path) for path in compared["tests"]],
        }
    )
table = methods_comparison(groups)
write_table(table, snakemake.output.table)
methods_comparison_figure(table, snakemake.output.figure)
log.info(
    "methods comparison: %d rows, %d on a Pareto front", len(table.data), int(table.data["pareto"].sum())
)
