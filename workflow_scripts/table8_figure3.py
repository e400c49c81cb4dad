"""Rule table8_figure3_memory: Table 8 and Figure 3 (accumulated parameters and MB) from model configs."""

from _common import read_json, setup

log = setup(snakemake)

from maskbert.memory import accumulated_memory
from reproduction.figures import figure3
from reproduction.memory_tables import table8
from reproduction.report import load_paper, write_table

p = snakemake.params
# The coded rate measured on a model's own runs (a model the grid did not train gets no coded column).
rates = read_json(snakemake.input.coded_rate) if snakemake.input.coded_rate else {}
accumulated = {
    m: accumulated_memory(
        p.model_sources[m],
        dict(p.task_num_labels),
        p.method_options[m],
        task_kinds=dict(p.task_kinds),
        coded_bits_per_weight=rates.get(m, {}).get("bits_per_weight"),
    )
    for m in p.models
}
table = table8(accumulated, load_paper(snakemake.input.paper))
write_table(table, snakemake.output.table)
figure3(table, snakemake.output.figure)
log.info("Table 8 / Figure 3: %d rows", len(table.data))
