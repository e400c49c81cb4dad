"""Rule train: one (model, task, method, seed, lr) run on a GPU of its own, else the CPU."""

from pathlib import Path

from _common import job_device, setup

log = setup(snakemake)

p = snakemake.params
run_dir = Path(snakemake.output.summary).parent
kwargs = {
    "model": p.model,
    "task": p.task,
    "method": p.method,
    "seed": int(p.seed),
    "lr": float(p.lr),
    "out_dir": str(run_dir),
    "epochs": int(p.epochs),
    "patience": int(p.patience),
    "group_by_length": bool(p.group_by_length),
    "precision": str(p.precision),
    "batch_size": int(p.batch_size),
    "max_length": int(p.max_length),
    "prepared_dir": str(snakemake.input.data),
    "options": dict(p.options),  # the setting's method options, resolved (the method reads them)
}

# Take a device before anything initialises CUDA, so CUDA_VISIBLE_DEVICES still applies.
with job_device(snakemake) as device:
    from maskbert.training import TrainConfig, train

    log.info("training %s on %s", kwargs, device)
    summary = train(TrainConfig(**kwargs, device=device))
    log.info("done: %s", summary)
