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
        unpack(_table3_inputs),
    output:
        TABLE3_JSON,
    params:
        model=lambda w: MODEL_OF_KEY[w.model],
        evaluations=lambda w: table3_evaluations(w.task),
        label_aliases=T3.get("label_aliases") or {},
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
        evaluations=[TABLE3_JSON.format(model=model_key(m), task=t, method=meth)
                     for m in T3["models"] for t in T3["train_tasks"] for meth in ("masking", "finetuning")],
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
        unpack(_pair_inputs),
    output:
        FIGURE4_JSON,
    params:
        model=lambda w: MODEL_OF_KEY[w.model],
        seed=lambda w: int(w.seed),
        folds=int(F4.get("folds", 5)),
        random_state=int(F4.get("random_state", 0)),
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
        _per_seed(FIGURE4_JSON, F4, tasks=[F4["task"]]),
    output:
        figure=report(figure_files("figure4_tsne")[0], caption="../resources/report/figure4.rst",
                      category="Figures"),
        figure_pdf=figure_files("figure4_tsne")[1],
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
        unpack(_figure5_inputs),
    output:
        scores=FIGURE5_SCORES,
        figure=report(figure_files("figure5_mask_dissimilarity")[0], caption="../resources/report/figure5.rst",
                      category="Figures"),
        figure_pdf=figure_files("figure5_mask_dissimilarity")[1],
        table=report_table("figure5_mask_dissimilarity", "figure5_table.rst"),
    params:
        model=F5["model"],
        tasks=F5["tasks"],
        seeds=F5["seeds"],
        layer_type=F5.get("layer_type", "O"),
        blocks=F5.get("blocks"),
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
        unpack(_pair_inputs),
    output:
        FIGURE6_JSON,
    params:
        model=lambda w: MODEL_OF_KEY[w.model],
        seed=lambda w: int(w.seed),
        points=int(F6.get("points", 21)),
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
        _per_seed(FIGURE6_JSON, F6),
    output:
        figure=report(figure_files("figure6_mode_connectivity")[0], caption="../resources/report/figure6.rst",
                      category="Figures"),
        figure_pdf=figure_files("figure6_mode_connectivity")[1],
        table=report_table("figure6_mode_connectivity", "figure6_table.rst"),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/figure6.log",
    script:
        "../workflow_scripts/analysis_figure6.py"


# ---------------------------------------------------------------------------------------------------
# Figure 7 (App. B): a 3-bend Bézier curve between finetuned and masked, trained on the train split
# ---------------------------------------------------------------------------------------------------


rule figure7_bezier:
    input:
        unpack(_pair_inputs),
    output:
        FIGURE7_JSON,
    params:
        model=lambda w: MODEL_OF_KEY[w.model],
        seed=lambda w: int(w.seed),
        points=int(F7.get("points", 21)),
        epochs=int(F7.get("epochs", 3)),
        lr=float(F7.get("lr", 3e-5)),
        curve_batch_size=int(F7.get("batch_size", 32)),
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
        _per_seed(FIGURE7_JSON, F7),
    output:
        figure=report(figure_files("figure7_bezier")[0], caption="../resources/report/figure7.rst",
                      category="Figures"),
        figure_pdf=figure_files("figure7_bezier")[1],
        table=report_table("figure7_bezier", "figure7_table.rst"),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/figure7.log",
    script:
        "../workflow_scripts/analysis_figure7.py"
