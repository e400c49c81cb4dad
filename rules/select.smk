# Stage 3: per (model, task, method, setting), the learning rate with the best mean dev score over the seeds.
# §4's rule as a checkpoint: round 0 compares the configured grid; a round whose best rate lies on the grid's
# border asks for the next value of the 1-3-5-7-9 sequence beyond it (all seeds), and the next round compares
# again, up to learning_rates.max_extensions rounds. select_lr writes the final round's choice.


checkpoint select_round:
    input:
        unpack(round_inputs),
    output:
        SELECT_ROUND_JSON,
    params:
        manifest=round_manifest,
        round=lambda w: int(w.round),
        max_extensions=int(config["learning_rates"].get("max_extensions", 2)),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/select/{{model}}/{{task}}/{{method}}/{{setting}}/round{{round}}.log",
    script:
        "../workflow_scripts/select_round.py"


rule select_lr:
    input:
        final_round,
    output:
        SELECT_JSON,
    params:
        model=lambda w: MODEL_OF_KEY[w.model],
        task="{task}",
        method="{method}",
        setting="{setting}",
        options=setting_params,
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/select/{{model}}/{{task}}/{{method}}/{{setting}}.log",
    script:
        "../workflow_scripts/select_lr.py"
