"""Rule figure7_bezier: train a 3-bend Bézier curve between the finetuned and the masked model of one seed,
then score it and the straight line on dev."""

from _common import job_device, selected_pair, setup, write_json

log = setup(snakemake)

from reproduction.analysis.connectivity import CurveTraining, bezier_connectivity
from reproduction.analysis.tables import bezier_rows

p = snakemake.params
finetuned, masked, prepared = selected_pair(snakemake)
training = CurveTraining(epochs=p.epochs, lr=p.lr, batch_size=p.curve_batch_size, seed=p.seed)
with job_device(snakemake) as device:
    result = bezier_connectivity(finetuned, masked, prepared, training, "dev", p.points, p.batch_size, device)
log.info("Bézier curve: training loss per epoch %s", [round(x, 4) for x in result["train_loss"]])
write_json(
    snakemake.output[0],
    {
        **result,
        "runs": {"finetuned": finetuned, "masked": masked},
        "rows": bezier_rows(result, p.model, prepared.task.name, p.seed),
    },
)
