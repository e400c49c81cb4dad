"""Rule table3_evaluate: every seed's selected run of (model, task, method) on the other tasks' splits."""

from _common import job_device, read_json, setup, write_json

log = setup(snakemake)

from maskbert.data import load_prepared
from reproduction.analysis.generalization import cross_evaluate

p = snakemake.params
selection = read_json(snakemake.input.selection)
targets = [(load_prepared(data), e["split"]) for e, data in zip(p.evaluations, snakemake.input.data)]
records = []
with job_device(snakemake) as device:
    for seed in selection["seeds"]:
        for record in cross_evaluate(
            selection["runs"][str(seed)], targets, p.label_aliases, p.batch_size, device
        ):
            record.update(model=p.model, lr=selection["best_lr"], setting=selection["setting"])
            log.info(
                "%s %s seed %s on %s %s: accuracy %.2f, majority %.2f",
                p.model,
                record["train_task"],
                seed,
                record["eval_task"],
                record["split"],
                record["accuracy"],
                record["majority"],
            )
            records.append(record)
write_json(snakemake.output[0], {"records": records})
