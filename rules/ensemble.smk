# Stage 5: the seed runs combined by majority label, summed logits, summed probabilities; the method is
# picked on dev and reported on test, with the ensemble's memory as Table 2 counts it.

ENSEMBLE_METHODS = list((config.get("ensemble") or {}).get("methods", ["majority", "logits", "probabilities"]))


rule ensemble:
    input:
        selection=SELECT_JSON,
        test_predictions=expand(f"{TEST_DIR}/test_predictions.safetensors", seed=SEEDS, allow_missing=True),
        dev_predictions=expand(f"{TEST_DIR}/dev_predictions.safetensors", seed=SEEDS, allow_missing=True),
    output:
        ENSEMBLE_JSON,
    params:
        model=lambda w: MODEL_OF_KEY[w.model],
        model_source=lambda w: model_source(MODEL_OF_KEY[w.model]),
        setting="{setting}",
        task="{task}",
        method="{method}",
        seeds=SEEDS,
        ensemble_methods=ENSEMBLE_METHODS,
        options=setting_params,
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/ensemble/{{model}}/{{task}}/{{method}}/{{setting}}.log",
    script:
        "../workflow_scripts/ensemble.py"
