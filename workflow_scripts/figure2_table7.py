"""Rule figure2_table7_layerwise: Table 7 (§5.2, App. D.1) beside the paper's, and Figure 2, from the
learning-rate selections of each (block set, initial sparsity) and the finetuning selections."""

from _common import read_json, setup

log = setup(snakemake)

from reproduction.figures import figure2
from reproduction.report import load_paper, write_table
from reproduction.sweep_tables import table7

inputs = snakemake.input
table = table7(
    [read_json(path) for path in inputs.masking],
    [read_json(path) for path in inputs.finetuning],
    snakemake.params.num_blocks,
    load_paper(inputs.paper),
)
write_table(table, snakemake.output.table)
figure2(table, snakemake.output.figure)
log.info("Table 7 / Figure 2: %d rows", len(table.data))
