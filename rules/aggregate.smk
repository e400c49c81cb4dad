# Stage 6: the paper's tables and Figure 3, each beside the paper's numbers (resources/paper_results.csv).
# Every table is written as CSV (in the HTML report), Markdown and LaTeX; figures as PNG (in the report)
# and PDF.

from dataclasses import astuple

from reproduction.grid import configured_options

CODED_RATE_JSON = f"{RESULTS}/memory/coded_mask_rate.json"
MEMORY = config.get("memory") or {}
MEMORY_MODELS = MEMORY.get("models", MODELS)
MEMORY_TASKS = MEMORY.get("tasks", TASKS)
MAIN_SELECTIONS = [group_path(SELECT_JSON, g) for g in GRID.main]
MAIN_MASKING = [g for g in GRID.main if g.method == "masking"]


rule coded_mask_rate:
    # Bits per masked weight of the selected masking runs' masks entropy-coded against their initial masks
    # (summary.json's mask_coded), per model: the rate of Table 2's and Table 8's "masking, coded" columns.
    input:  # the summaries of every model's selected main-grid masking runs, named by the model's key
        unpack(lambda w: {model_key(m): [path for g in MAIN_MASKING if g.model == m
                                         for path in selected_run_files(*astuple(g), ("summary.json",))]
                          for m in MODELS}),
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
        selections=MAIN_SELECTIONS,
        paper=PAPER_RESULTS,
    output:
        report_table("table1_dev", "table1.rst"),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/table1_dev.log",
    script:
        "../workflow_scripts/table1_dev.py"


rule table4_best_lr:
    input:
        selections=MAIN_SELECTIONS,
        paper=PAPER_RESULTS,
    output:
        report_table("table4_best_lr", "table4.rst"),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/table4_best_lr.log",
    script:
        "../workflow_scripts/table4_best_lr.py"


rule table2_table6_test_error:
    input:
        ensembles=[group_path(ENSEMBLE_JSON, g) for g in GRID.main if g.task in TEST_TASKS],
        paper=PAPER_RESULTS,
        coded_rate=CODED_RATE_JSON if "masking" in METHODS else [],
    output:
        errors=report_table("table2_table6_test_error", "table2_table6.rst"),
        memory=report_table("table2_memory", "table2_memory.rst"),
    params:
        models=MODELS,
        model_sources={m: model_source(m) for m in MODELS},
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
        figure=report_figure("figure3_memory", "figure3.rst"),
    params:
        models=MEMORY_MODELS,
        model_sources={m: model_source(m) for m in MEMORY_MODELS},
        task_num_labels={t: int(get_task(t).head_outputs) for t in MEMORY_TASKS},
        task_kinds={t: get_task(t).kind for t in MEMORY_TASKS},
        method_options={m: {method: configured_options(config, m, method) for method in ("finetuning", "masking")}
                        for m in MEMORY_MODELS},
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/table8_figure3_memory.log",
    script:
        "../workflow_scripts/table8_figure3.py"
