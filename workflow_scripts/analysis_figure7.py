"""Rule figure7: the Bézier-curve figure and its table."""

import pandas as pd
from _common import read_json, setup

log = setup(snakemake)

from reproduction.analysis.plots import figure7
from reproduction.analysis.tables import figure7_table
from reproduction.report import write_table

rows = pd.DataFrame([row for path in snakemake.input for row in read_json(path)["rows"]])
out = snakemake.output
figure7(rows, [out.figure, out.figure_pdf])
write_table(figure7_table(rows), out.table)
log.info("Figure 7: %d points", len(rows))
