"""Rule table5_split_sizes: Table 5 (dev/test sizes, truncation) from the data stage's stats.json."""

from pathlib import Path

from _common import read_json, setup

log = setup(snakemake)

from reproduction.report import load_paper, write_table
from reproduction.tables import table5

stats = [
    (model, read_json(Path(d) / "stats.json"))
    for model, d in zip(snakemake.params.models, snakemake.input.data)
]
write_table(table5(stats, load_paper(snakemake.input.paper)), snakemake.output)
log.info("Table 5: %d rows", len(stats))
