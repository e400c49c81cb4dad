# Beyond the paper: masking against today's parameter-efficient methods (config section `comparison:`; target
# `methods_comparison`). Every (model, task, method) (GRID.comparison) goes through the same train, select
# (§4's rule included) and test rules as the main grid, at the method's main setting and its
# `learning_rates` grid, with the main grid's seeds: a point the main grid has (its masking and finetuning
# runs) is the same job, trained once. The table and figure read each selection, its selected runs'
# summaries (bytes on disk, trainable parameters) and, for a task with a test split, their test scores.

from dataclasses import astuple

COMPARISON_OUTPUTS = table_files("methods_comparison") + figure_files("methods_comparison")
# Per compared selection, its JSON and its seeds' test metrics (a task with a test split): paths that need no
# checkpoint, so every selection of the comparison is planned at once. The script reads the selected runs'
# summaries from the selection's own run directories.
COMPARED = [
    {
        "selection": group_path(SELECT_JSON, g),
        "tests": [group_path(f"{TEST_DIR}/test_metrics.json", g, seed=s) for s in SEEDS]
        if "test" in get_task(g.task).splits
        else [],
    }
    for g in GRID.comparison
]


localrules:
    methods_comparison_table,


rule methods_comparison_table:
    input:
        selections=[c["selection"] for c in COMPARED],
        tests=[path for c in COMPARED for path in c["tests"]],
        summaries=lambda w: [path for g in GRID.comparison
                             for path in selected_run_files(*astuple(g), ("summary.json",))],
    output:
        table=report_table("methods_comparison", "methods_comparison_table.rst"),
        figure=report_figure("methods_comparison", "methods_comparison.rst"),
    params:
        compared=COMPARED,
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/methods_comparison.log",
    script:
        "../workflow_scripts/methods_comparison.py"
