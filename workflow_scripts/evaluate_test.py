"""Rule evaluate_test: every seed's run at the selected learning rate, scored on the test split."""

import shutil
from pathlib import Path

from _common import job_device, read_json, setup, write_json

log = setup(snakemake)

selection = read_json(snakemake.input.selection)
outputs = snakemake.output
with job_device(snakemake) as device:
    from maskbert.evaluation import evaluate_run

    for i, seed in enumerate(snakemake.params.seeds):
        run_dir = Path(selection["runs"][str(seed)])
        out_dir = Path(outputs.metrics[i]).parent
        result = evaluate_run(
            run_dir,
            "test",
            prepared_dir=snakemake.input.data,
            out_dir=out_dir,
            device=device,
        )
        log.info("seed %s (%s): test %s = %.2f", seed, run_dir, result["metric"], result["score"])
        result.update({"seed": int(seed), "lr": selection["best_lr"], "run": str(run_dir)})
        shutil.copyfile(run_dir / "dev_predictions.safetensors", outputs.dev_predictions[i])
        write_json(outputs.metrics[i], result)
