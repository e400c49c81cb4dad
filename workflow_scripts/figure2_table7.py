"""Rule figure2_table7_layerwise: Table 7 (§5.2, App. D.1) beside the paper's, and Figure 2, from the
learning-rate selections of each (block set, initial sparsity) and the finetuning selections."""

from _common import read_json, setup

log = setup(snakemake)  # noqa: F821 - injected by Snakemake

from reproduction.report import load_paper, write_table
from reproduction.sweeps import figure2, table7

inputs = snakemake.input  # noqa: F821
table = table7([read_json(path) for path in inputs.masking], [read_json(path) for path in inputs.finetuning],
               snakemake.params.num_blocks, load_paper(inputs.paper))  # noqa: F821  # fmt: skip
write_table(table, snakemake.output.table)  # noqa: F821
figure2(table, [snakemake.output.png, snakemake.output.pdf])  # noqa: F821
log.info("Table 7 / Figure 2: %d rows", len(table.data))
