# Stage 2: one training run per (model, task, method, setting, lr, seed). The path spells the grid point
# (the setting names a masking run's blocks and initial sparsity), so a new seed, learning rate, block set or
# sparsity only adds jobs and one job serves every experiment that needs its point; every other
# hyperparameter is a param, so changing it reruns exactly the runs it affects.


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
    resources:
        gpu=1,
    threads: THREADS_TRAIN
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/train/{{model}}/{{task}}/{{method}}/{{setting}}/lr{{lr}}/seed{{seed}}.log",
    script:
        "../workflow_scripts/train.py"
