"""Checkpoint select_round: one round of learning-rate selection with the grid-border rule."""

from _common import read_json, setup, write_json

log = setup(snakemake)

from reproduction.selection import select_round

p = snakemake.params
records = []
for entry, path in zip(p.manifest, snakemake.input.summaries):
    summary = read_json(path)
    records.append({**entry, "score": summary["best_dev_score"], "metric": summary["metric"]})
decision = select_round(records, p.round, p.max_extensions)
write_json(snakemake.output[0], decision)
log.info(
    "round %d: best lr %s (dev %.2f), border %s, next %s",
    p.round,
    decision["best_lr"],
    decision["dev_mean"],
    decision["border"] or "none",
    decision["next_lrs"] or "none",
)
