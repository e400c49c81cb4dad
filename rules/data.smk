# Stage 1: read (download / local files / synthetic) and tokenize each task once per model.
# Only data keys are params here, so training-only changes (epochs, lr, seeds...) never redo it. The output is
# a directory, so a local copy's files are not inputs; `local_files` (a fingerprint of their paths, sizes and
# mtimes) makes an edited local file redo the tokenization through the params rerun trigger.


rule prepare_data:
    output:
        directory(DATA_DIR),
    params:
        model=lambda w: model_source(MODEL_OF_KEY[w.model]),
        task="{task}",
        source=lambda w: workflow_config.source_of(config, w.task)["source"],
        path=lambda w: workflow_config.source_of(config, w.task)["path"],
        local_files=lambda w: workflow_config.local_fingerprint(config, w.task),
        max_length=MAX_LENGTH,
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/data/{{model}}/{{task}}.log",
    threads: 1
    script:
        "../workflow_scripts/prepare_data.py"
