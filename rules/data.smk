# Stage 1: read (download / local files / synthetic) and tokenize each task once per model.
# Only data keys are params here, so training-only changes (epochs, lr, seeds...) never redo it. The output is
# a directory, so a local copy's files are not inputs; `local_files` (a fingerprint of their paths, sizes and
# mtimes) makes an edited local file redo the tokenization through the params rerun trigger.

import shlex


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
        # Not the record (functions of `output`, left out of it): the command and the `--path` option.
        cli=lambda w, output: MASKBERT_CLI,
        path_option=lambda w, output: f"--path {shlex.quote(p)}" if (p := workflow_config.source_of(config, w.task)["path"]) else "",
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/data/{{model}}/{{task}}.log",
    threads: 1
    # A command line, not a script, so that only its command and params rerun it (rules/train.smk).
    shell:
        "{params.cli} prepare {params.task:q} --model {params.model:q} --source {params.source:q}"
        " {params.path_option} --out {output:q} --max-length {params.max_length} > {log:q} 2>&1"
