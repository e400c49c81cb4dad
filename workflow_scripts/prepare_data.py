"""Rule prepare_data: read and tokenize one task for one model (maskbert.data.prepare)."""

from _common import setup

log = setup(snakemake)

from maskbert.data import prepare

p = snakemake.params
out = prepare(
    p.task,
    p.model,
    source=p.source,
    path=p.path,
    out_dir=snakemake.output[0],
    max_length=p.max_length,
)
log.info("prepared %s for %s (source %s) in %s", p.task, p.model, p.source, out)
