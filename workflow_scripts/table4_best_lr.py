"""Rule table4_best_lr: Table 4 (selected learning rates) beside the paper's."""

from _common import read_json, setup

log = setup(snakemake)

from reproduction.report import load_paper, write_table
from reproduction.tables import table4

table = table4([read_json(p) for p in snakemake.input.selections], load_paper(snakemake.input.paper))
write_table(table, snakemake.output)
log.info("Table 4: %d rows", len(table.data))
