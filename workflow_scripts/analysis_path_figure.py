"""Rules figure6 and figure7 (params.analysis): the score along the paths between two models, mean over
seeds, as a figure and a table (Figure 6: the straight lines of mode connectivity; Figure 7: the Bézier
curve beside the line)."""

import pandas as pd
from _common import read_json, setup

log = setup(snakemake)

from reproduction.analysis.plots import figure6, figure7
from reproduction.analysis.tables import figure6_table, figure7_table
from reproduction.report import write_table

draw, tabulate = {"figure6": (figure6, figure6_table), "figure7": (figure7, figure7_table)}[
    snakemake.params.analysis
]
rows = pd.DataFrame([row for path in snakemake.input for row in read_json(path)["rows"]])
draw(rows, snakemake.output.figure)
write_table(tabulate(rows), snakemake.output.table)
log.info("%s: %d points", snakemake.params.analysis, len(rows))
