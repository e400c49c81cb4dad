"""Rule figure6_paths: the dev score along finetuned -> masked, pretrained -> finetuned and pretrained ->
masked for one seed."""

from _common import read_json, set_torch_threads, setup, write_json

log = setup(snakemake)

from maskbert.data import load_prepared
from maskbert.devices import acquire_device
from reproduction.analysis.connectivity import mode_connectivity

p, inputs = snakemake.params, snakemake.input
seed = str(p.seed)
finetuned = read_json(inputs.finetuning_selection)["runs"][seed]
masked = read_json(inputs.masking_selection)["runs"][seed]
prepared = load_prepared(inputs.data)
with acquire_device() as device:
    set_torch_threads(snakemake)
    rows = mode_connectivity(finetuned, masked, prepared, "dev", p.points, p.batch_size, device)
rows = [{"model": p.model, "task": prepared.task.name, "seed": p.seed, **row} for row in rows]
write_json(snakemake.output[0], {"runs": {"finetuned": finetuned, "masked": masked}, "rows": rows})
log.info("Figure 6: %d points", len(rows))
