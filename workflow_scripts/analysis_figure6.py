"""Rule figure6: the mode-connectivity figure and its table."""

import pandas as pd
from _common import read_json, setup

log = setup(snakemake)

from reproduction.analysis.plots import figure6
from reproduction.analysis.tables import figure6_table
from reproduction.report import write_table

rows = pd.DataFrame([row for path in snakemake.input for row in read_json(path)["rows"]])
out = snakemake.output
figure6(rows, [out.figure, out.figure_pdf])
write_table(figure6_table(rows), out.table)
log.info("Figure 6: %d points", len(rows))
