# Stage 3: per (model, task, method), the learning rate with the best mean dev score over the seeds.


rule select_lr:
    input:
        run_summaries,
    output:
        SELECT_JSON,
    params:
        model=lambda w: MODEL_OF_KEY[w.model],
        task="{task}",
        method="{method}",
        seeds=SEEDS,
        lrs=lambda w: lr_grid(MODEL_OF_KEY[w.model], w.task, w.method),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/select/{{model}}/{{task}}/{{method}}.log",
    script:
        "../workflow_scripts/select_lr.py"
