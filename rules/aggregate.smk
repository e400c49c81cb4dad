# Stage 6: the paper's tables and Figure 3, each beside the paper's numbers (resources/paper_results.csv).
# Every table is written as CSV (in the HTML report), Markdown and LaTeX; figures as PNG (in the report)
# and PDF.


rule coded_mask_rate:
    # Bits per masked weight of the selected masking runs' masks entropy-coded against their initial masks
    # (summary.json's mask_coded), per model: the rate of Table 2's and Table 8's "masking, coded" columns.
    input:
        unpack(coded_rate_inputs),
    output:
        CODED_RATE_JSON,
    params:
        models={model_key(m): m for m in MODELS},
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/coded_mask_rate.log",
    script:
        "../workflow_scripts/coded_mask_rate.py"


rule table1_dev:
    input:
        selections=main_paths(SELECT_JSON),
        paper=PAPER_RESULTS,
    output:
        report_table("table1_dev", "table1.rst"),
    params:
        models=MODELS,
        tasks=TASKS,
        methods=METHODS,
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/table1_dev.log",
    script:
        "../workflow_scripts/table1_dev.py"


rule table4_best_lr:
    input:
        selections=main_paths(SELECT_JSON),
        paper=PAPER_RESULTS,
    output:
        report_table("table4_best_lr", "table4.rst"),
    params:
        models=MODELS,
        tasks=TASKS,
        methods=METHODS,
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/table4_best_lr.log",
    script:
        "../workflow_scripts/table4_best_lr.py"


rule table2_table6_test_error:
    input:
        ensembles=main_paths(ENSEMBLE_JSON, tasks=TEST_TASKS),
        paper=PAPER_RESULTS,
        coded_rate=CODED_RATE_JSON if "masking" in METHODS else [],
    output:
        errors=report_table("table2_table6_test_error", "table2_table6.rst"),
        memory=report_table("table2_memory", "table2_memory.rst"),
    params:
        models=MODELS,
        model_sources={m: model_source(m) for m in MODELS},
        tasks=TEST_TASKS,
        methods=METHODS,
        seeds=SEEDS,
        method_options={m: {method: configured_options(config, m, method) for method in METHODS} for m in MODELS},
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/table2_table6_test_error.log",
    script:
        "../workflow_scripts/table2_table6.py"


rule table5_split_sizes:
    input:
        data=[DATA_DIR.format(model=model_key(m), task=t) for m in MODELS for t in TASKS],
        paper=PAPER_RESULTS,
    output:
        report_table("table5_split_sizes", "table5.rst"),
    params:
        models=[m for m in MODELS for t in TASKS],
        tasks=[t for m in MODELS for t in TASKS],
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/table5_split_sizes.log",
    script:
        "../workflow_scripts/table5_split_sizes.py"


rule table8_figure3_memory:
    input:
        paper=PAPER_RESULTS,
        coded_rate=CODED_RATE_JSON if "masking" in METHODS else [],
    output:
        table=report_table("table8_memory", "table8.rst"),
        png=report(f"{FIGURES}/figure3_memory.png", caption="../resources/report/figure3.rst", category="Figures"),
        pdf=f"{FIGURES}/figure3_memory.pdf",
    params:
        models=MEMORY.get("models", MODELS),
        model_sources={m: model_source(m) for m in MEMORY.get("models", MODELS)},
        task_num_labels=num_labels_of(MEMORY.get("tasks", TASKS)),
        task_kinds={t: get_task(t).kind for t in MEMORY.get("tasks", TASKS)},
        method_options={
            m: {method: configured_options(config, m, method) for method in ("finetuning", "masking")}
            for m in MEMORY.get("models", MODELS)
        },
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/table8_figure3_memory.log",
    script:
        "../workflow_scripts/table8_figure3.py"
