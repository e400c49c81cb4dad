# Stage 4: the selected runs (every seed at the selected learning rate) evaluated on the test split, for
# the tasks that have one. Their test and dev predictions are copied out for the ensembles.


rule evaluate_test:
    input:
        selection=SELECT_JSON,
        runs=run_summaries,
        data=DATA_DIR,
    output:
        metrics=expand(f"{TEST_DIR}/test_metrics.json", seed=SEEDS, allow_missing=True),
        test_predictions=expand(f"{TEST_DIR}/test_predictions.safetensors", seed=SEEDS, allow_missing=True),
        dev_predictions=expand(f"{TEST_DIR}/dev_predictions.safetensors", seed=SEEDS, allow_missing=True),
    params:
        seeds=SEEDS,
    resources:
        gpu=1,
    threads: THREADS_EVALUATE
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/test/{{model}}/{{task}}/{{method}}.log",
    script:
        "../workflow_scripts/evaluate_test.py"
