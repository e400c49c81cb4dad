# Stage 2: one training run per (model, task, method, setting, lr, seed). The path spells the grid point
# (the setting names a masking run's blocks and initial sparsity), so a new seed, learning rate, block set or
# sparsity only adds jobs and one job serves every experiment that needs its point; every other
# hyperparameter is a param, so changing it reruns exactly the runs it affects.
#
# The job is the `maskbert train` command line (and the data job `maskbert prepare`), not a workflow script:
# Snakemake reruns a shell rule when its command text or params change, but a script rule whenever the
# script file is newer than its outputs (a comment edit, a `git pull`), which on the paper's grid would
# train every run again. A change of the library itself reruns nothing: `--forcerun train` (docs/WORKFLOW.md).

import json
import shlex
import sys

from snakemake.settings.types import DeploymentMethod

# `maskbert` as the jobs run it: with this Snakemake's interpreter (the project's environment; a cluster
# node runs the job with the same interpreter path), or the rules' conda environment's under --sdm conda;
# either way maskbert comes from this checkout, installed or not.
_JOB_PYTHON = (
    "python" if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method else sys.executable
)
MASKBERT_CLI = (
    f"PYTHONPATH={shlex.quote(workflow.basedir)}${{PYTHONPATH:+:$PYTHONPATH}}"
    f" {shlex.quote(_JOB_PYTHON)} -m maskbert.cli"
)


rule train:
    input:
        data=DATA_DIR,
    output:
        summary=RUN_SUMMARY,
        run=f"{RUN_DIR}/run.json",
        metrics=f"{RUN_DIR}/metrics.jsonl",
        dev_predictions=f"{RUN_DIR}/dev_predictions.safetensors",
        artifact=directory(f"{RUN_DIR}/artifact"),
    # These values are the run's record: a change in any reruns it.
    params:
        model=lambda w: model_source(MODEL_OF_KEY[w.model]),
        task="{task}",
        method="{method}",
        seed=lambda w: int(w.seed),
        lr=lambda w: float(w.lr),
        epochs=TRAINING.get("epochs", 10),
        patience=TRAINING.get("patience", 2),
        group_by_length=GROUP_BY_LENGTH,
        precision=PRECISION,
        batch_size=lambda w: batch_size(w.task),
        max_length=MAX_LENGTH,
        options=setting_params,
        # Not the record: the command (where maskbert is) and two values above spelt for the command line.
        # A param function of `output` is left out of the record (Snakemake counts it as derived), so these
        # rerun nothing of their own (a moved environment or checkout retrains nothing).
        cli=lambda w, output: MASKBERT_CLI,
        options_json=lambda w, output: json.dumps(setting_params(w), sort_keys=True),
        group_by_length_flag=lambda w, output: "--group-by-length" if GROUP_BY_LENGTH else "",
    resources:
        gpu=1,
    threads: THREADS_TRAIN
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/train/{{model}}/{{task}}/{{method}}/{{setting}}/lr{{lr}}/seed{{seed}}.log",
    # With no --device, `maskbert train` takes a GPU no other job holds (maskbert.devices, honouring
    # CUDA_VISIBLE_DEVICES), else the CPU; its CPU threads are capped at the job's share.
    shell:
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} TOKENIZERS_PARALLELISM=false"
        " {params.cli} train --model {params.model:q} --task {params.task:q} --method {params.method:q}"
        " --options {params.options_json:q} --seed {params.seed} --lr {params.lr}"
        ' --out "$(dirname {output.summary:q})" --prepared {input.data:q} --epochs {params.epochs}'
        " --patience {params.patience} --batch-size {params.batch_size} --max-length {params.max_length}"
        " --precision {params.precision:q} {params.group_by_length_flag} > {log:q} 2>&1"
