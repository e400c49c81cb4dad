"""Rule table1_dev: Table 1 (dev mean ± std at the selected learning rate) beside the paper's."""

from _common import read_json, setup

log = setup(snakemake)

from reproduction.report import load_paper, write_table
from reproduction.tables import table1

table = table1([read_json(p) for p in snakemake.input.selections], load_paper(snakemake.input.paper))
write_table(table, snakemake.output)
log.info("Table 1: %d rows", len(table.data))
