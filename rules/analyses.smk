# The §6 and App. B analyses (config key `analyses`), downstream of the learning-rate selection: each job reads
# the selected runs (every seed at the chosen learning rate, main setting) and retrains nothing; only
# Figure 7 trains, and only the Bézier curve's middle control points. Per-job results go under
# {RESULTS}/analyses/<analysis>/, the tables and figures beside the others.
#
#   Table 3   table3_evaluate per (model, training task, method)   -> table3
#   Figure 4  figure4_vectors per (model, task, seed)               -> figure4
#   Figure 5  figure5 (one model, every task and seed)
#   Figure 6  figure6_paths per (model, task, seed)                 -> figure6
#   Figure 7  figure7_bezier per (model, task, seed)                -> figure7


include: "analyses_common.smk"


localrules:
    table3,
    figure4,
    figure5,
    figure6,
    figure7,


# ---------------------------------------------------------------------------------------------------
# Table 3 (§6.2): generalisation across sentiment tasks, and the transfer to IMDB
# ---------------------------------------------------------------------------------------------------


rule table3_evaluate:
    input:
        unpack(table3_inputs),
    output:
        TABLE3_JSON,
    params:
        model=lambda w: MODEL_OF_KEY[w.model],
        evaluations=lambda w: table3_evaluations(w.task),
        label_aliases=TABLE3_CONFIG.get("label_aliases") or {},
        batch_size=ANALYSIS_BATCH,
    resources:
        gpu=1,
    threads: THREADS_EVALUATE
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/analyses/table3/{{model}}/{{task}}/{{method}}.log",
    script:
        "../workflow_scripts/analysis_table3_evaluate.py"


rule table3:
    input:
        evaluations=analysis_job_files("table3", TABLE3_JSON),
        paper=PAPER_RESULTS,
    output:
        report_table("table3_generalization", "table3.rst"),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/table3_generalization.log",
    script:
        "../workflow_scripts/analysis_table3.py"


# ---------------------------------------------------------------------------------------------------
# Figure 4 (§6.1): t-SNE of [CLS] for the pretrained, finetuned and masked model, with a linear probe
# ---------------------------------------------------------------------------------------------------


rule figure4_vectors:
    input:
        unpack(pair_inputs),
    output:
        FIGURE4_JSON,
    params:
        model=lambda w: MODEL_OF_KEY[w.model],
        seed=lambda w: int(w.seed),
        folds=int(FIGURE4_CONFIG.get("folds", 5)),
        random_state=int(FIGURE4_CONFIG.get("random_state", 0)),
        batch_size=ANALYSIS_BATCH,
    resources:
        gpu=1,
    threads: THREADS_EVALUATE
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/analyses/figure4/{{model}}/{{task}}/seed{{seed}}.log",
    script:
        "../workflow_scripts/analysis_figure4_vectors.py"


rule figure4:
    input:
        analysis_job_files("figure4", FIGURE4_JSON),
    output:
        figure=report_figure("figure4_tsne", "figure4.rst"),
        table=report_table("figure4_probe", "figure4_probe.rst"),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/figure4.log",
    script:
        "../workflow_scripts/analysis_figure4.py"


# ---------------------------------------------------------------------------------------------------
# Figure 5 (§6.2): dissimilarity of trained masks between tasks (one seed) and seeds (one task)
# ---------------------------------------------------------------------------------------------------


rule figure5:
    input:
        unpack(figure5_inputs),
    output:
        scores=FIGURE5_SCORES,
        figure=report_figure("figure5_mask_dissimilarity", "figure5.rst"),
        table=report_table("figure5_mask_dissimilarity", "figure5_table.rst"),
    params:
        model=FIGURE5_CONFIG["model"],
        tasks=FIGURE5_CONFIG["tasks"],
        seeds=FIGURE5_CONFIG["seeds"],
        layer_type=FIGURE5_CONFIG.get("layer_type", "O"),
        blocks=FIGURE5_CONFIG.get("blocks"),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/analyses/figure5.log",
    script:
        "../workflow_scripts/analysis_figure5.py"


# ---------------------------------------------------------------------------------------------------
# Figure 6 (§6.3): dev score along the line finetuned -> masked, and pretrained -> finetuned / masked
# ---------------------------------------------------------------------------------------------------


rule figure6_paths:
    input:
        unpack(pair_inputs),
    output:
        FIGURE6_JSON,
    params:
        model=lambda w: MODEL_OF_KEY[w.model],
        seed=lambda w: int(w.seed),
        points=int(FIGURE6_CONFIG.get("points", 21)),
        batch_size=ANALYSIS_BATCH,
    resources:
        gpu=1,
    threads: THREADS_EVALUATE
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/analyses/figure6/{{model}}/{{task}}/seed{{seed}}.log",
    script:
        "../workflow_scripts/analysis_figure6_paths.py"


rule figure6:
    input:
        analysis_job_files("figure6", FIGURE6_JSON),
    output:
        figure=report_figure("figure6_mode_connectivity", "figure6.rst"),
        table=report_table("figure6_mode_connectivity", "figure6_table.rst"),
    conda:
        CONDA_ENV
    params:
        analysis="figure6",
    log:
        f"{LOGS}/tables/figure6.log",
    script:
        "../workflow_scripts/analysis_path_figure.py"


# ---------------------------------------------------------------------------------------------------
# Figure 7 (App. B): a 3-bend Bézier curve between finetuned and masked, trained on the train split
# ---------------------------------------------------------------------------------------------------


rule figure7_bezier:
    input:
        unpack(pair_inputs),
    output:
        FIGURE7_JSON,
    params:
        model=lambda w: MODEL_OF_KEY[w.model],
        seed=lambda w: int(w.seed),
        points=int(FIGURE7_CONFIG.get("points", 21)),
        epochs=int(FIGURE7_CONFIG.get("epochs", 3)),
        lr=float(FIGURE7_CONFIG.get("lr", 3e-5)),
        curve_batch_size=int(FIGURE7_CONFIG.get("batch_size", 32)),
        batch_size=ANALYSIS_BATCH,
    resources:
        gpu=1,
    threads: THREADS_TRAIN
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/analyses/figure7/{{model}}/{{task}}/seed{{seed}}.log",
    script:
        "../workflow_scripts/analysis_figure7_bezier.py"


rule figure7:
    input:
        analysis_job_files("figure7", FIGURE7_JSON),
    output:
        figure=report_figure("figure7_bezier", "figure7.rst"),
        table=report_table("figure7_bezier", "figure7_table.rst"),
    conda:
        CONDA_ENV
    params:
        analysis="figure7",
    log:
        f"{LOGS}/tables/figure7.log",
    script:
        "../workflow_scripts/analysis_path_figure.py"
