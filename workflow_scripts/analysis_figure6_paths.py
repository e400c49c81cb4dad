"""Rule figure6_paths: the dev score along finetuned -> masked, pretrained -> finetuned and pretrained ->
masked for one seed."""

from _common import job_device, selected_pair, setup, write_json

log = setup(snakemake)

from reproduction.analysis.connectivity import mode_connectivity

p = snakemake.params
finetuned, masked, prepared = selected_pair(snakemake)
with job_device(snakemake) as device:
    rows = mode_connectivity(finetuned, masked, prepared, "dev", p.points, p.batch_size, device)
rows = [{"model": p.model, "task": prepared.task.name, "seed": p.seed, **row} for row in rows]
write_json(snakemake.output[0], {"runs": {"finetuned": finetuned, "masked": masked}, "rows": rows})
log.info("Figure 6: %d points", len(rows))
