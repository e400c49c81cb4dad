# Stage 2: one training run per (model, task, method, seed, lr). The path spells the grid point, so a new
# seed or learning rate only adds jobs; every other hyperparameter is a param, so changing it reruns
# exactly the runs it affects (masking-only keys are None for finetuning runs).


rule train:
    input:
        data=DATA_DIR,
    output:
        summary=RUN_SUMMARY,
        dev_predictions=f"{RUN_DIR}/dev_predictions.safetensors",
    params:
        model=lambda w: MODEL_SOURCE[w.model],
        task="{task}",
        method="{method}",
        seed="{seed}",
        lr="{lr}",
        epochs=TRAINING.get("epochs", 10),
        patience=TRAINING.get("patience", 2),
        batch_size=lambda w: BATCH_SIZE[w.task],
        max_length=MAX_LENGTH,
        initial_sparsity=lambda w: INITIAL_SPARSITY if w.method == "masking" else None,
        masked_blocks=lambda w: MASKED_BLOCKS[w.model] if w.method == "masking" else None,
    resources:
        gpu=1,
    threads: THREADS_TRAIN
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/train/{{model}}/{{task}}/{{method}}/lr{{lr}}/seed{{seed}}.log",
    script:
        "../workflow_scripts/train.py"
