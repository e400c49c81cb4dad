"""Rule prepare_data: read and tokenize one task for one model (maskbert.data.prepare)."""

from _common import setup

log = setup(snakemake)  # noqa: F821 - injected by Snakemake

from maskbert.data import prepare

p = snakemake.params  # noqa: F821
out = prepare(p.task, p.model, source=p.source, path=p.path, out_dir=snakemake.output[0],  # noqa: F821
              max_length=p.max_length)  # fmt: skip
log.info("prepared %s for %s (source %s) in %s", p.task, p.model, p.source, out)
