"""Rule methods_comparison: every compared method's dev and test score against the bytes its task stores."""

from _common import read_json, setup

log = setup(snakemake)

from reproduction.comparison import methods_comparison, methods_comparison_figure
from reproduction.report import write_table

groups = [
    {
        "selection": read_json(group["selection"]),
        "summaries": [read_json(path) for path in group["summaries"]],
        "tests": [read_json(path) for path in group["tests"]],
    }
    for group in snakemake.params.groups
]
table = methods_comparison(groups)
write_table(table, snakemake.output.table)
methods_comparison_figure(table, [snakemake.output.png, snakemake.output.pdf])
log.info(
    "methods comparison: %d rows, %d on a Pareto front", len(table.data), int(table.data["pareto"].sum())
)
