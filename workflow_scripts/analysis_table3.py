"""Rule table3: Table 3 (generalisation across tasks, transfer to IMDB) beside the paper's numbers."""

from _common import read_json, setup

log = setup(snakemake)

from reproduction.analysis.tables import table3
from reproduction.report import load_paper, write_table

records = [r for path in snakemake.input.evaluations for r in read_json(path)["records"]]
table = table3(records, load_paper(snakemake.input.paper))
write_table(table, snakemake.output)
log.info("Table 3: %d rows from %d evaluations", len(table.data), len(records))
