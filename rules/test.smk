# Stage 4: the selected runs (every seed at the selected learning rate) evaluated on the test split, for the
# tasks that have one. The selected runs' files are inputs (read from the selection checkpoint); the test
# predictions, and a copy of each run's dev predictions for the ensembles, are this rule's own outputs.


rule evaluate_test:
    input:
        selection=SELECT_JSON,
        runs=lambda w: selected_run_files(w.model, w.task, w.method, w.setting,
                                          ("run.json", "artifact", "dev_predictions.safetensors")),
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
        f"{LOGS}/test/{{model}}/{{task}}/{{method}}/{{setting}}.log",
    script:
        "../workflow_scripts/evaluate_test.py"
