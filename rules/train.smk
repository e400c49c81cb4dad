# Stage 2: one training run per (model, task, method, setting, lr, seed). The path spells the grid point
# (the setting names a masking run's blocks and initial sparsity), so a new seed, learning rate, block set or
# sparsity only adds jobs and one job serves every experiment that needs its point; every other
# hyperparameter is in the run's record param, so changing it reruns exactly the runs it affects.
#
# The job is the `maskbert train` command line (and the data job `maskbert prepare`), not a workflow script:
# Snakemake reruns a shell rule when its command text or its params change, but a script rule whenever the
# script file is newer than its outputs (a comment edit, a `git pull`), which on the paper's grid would
# train every run again. A change of the library itself reruns nothing: `--forcerun train` (docs/WORKFLOW.md).
#
# The rule has two params, both built in rules/common.smk: `record`, one dict of every value that decides
# what the run computes (Snakemake stores it and reruns the run when it changes), and `command`, the command
# line spelt from the record. The command is a function of `output`, which Snakemake counts as derived and
# leaves out of the stored params, so where the interpreter lives (a moved checkout or environment) reruns
# nothing. Two functions per job instead of one per value make planning cheaper (bench/dag_time.py):
# Snakemake inspects and calls every param function of every job.


rule train:
    input:
        data=DATA_DIR,
    output:
        summary=RUN_SUMMARY,
        run=f"{RUN_DIR}/run.json",
        metrics=f"{RUN_DIR}/metrics.jsonl",
        dev_predictions=f"{RUN_DIR}/dev_predictions.safetensors",
        artifact=directory(f"{RUN_DIR}/artifact"),
    params:
        record=train_record,
        command=train_command,
    resources:
        gpu=1,
    threads: THREADS_TRAIN
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/train/{{model}}/{{task}}/{{method}}/{{setting}}/lr{{lr}}/seed{{seed}}.log",
    # With no --device, `maskbert train` takes a GPU no other job holds (maskbert.devices, honouring
    # CUDA_VISIBLE_DEVICES), else the CPU.
    shell:
        "{params.command} > {log:q} 2>&1"
