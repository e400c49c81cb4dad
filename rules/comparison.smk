# Beyond the paper: masking against today's parameter-efficient methods (config section `comparison:`; target
# `methods_comparison`). Every (model, task, method) goes through the same train, select (§4's rule included)
# and test rules as the main grid, at the method's main setting and its `learning_rates` grid, with the main
# grid's seeds: a point the main grid has (its masking and finetuning runs) is the same job, trained once.
# The table and figure read each selection, its selected runs' summaries (bytes on disk, trainable
# parameters) and, for a task with a test split, their test scores.

COMPARISON = config["comparison"]
COMPARISON_GROUPS = []
for _model in COMPARISON["models"]:
    register_model(_model)
    for _task in COMPARISON["tasks"]:
        for _method in COMPARISON["methods"]:
            _setting = main_setting(_model, _method)
            register_selection(_model, _task, _method, _setting)
            COMPARISON_GROUPS.append((model_key(_model), _task, _method, _setting))
COMPARISON_OUTPUTS = table_files("methods_comparison") + figure_files("methods_comparison")


localrules:
    methods_comparison_table,


rule methods_comparison_table:
    input:
        selections=[comparison_files(*group)["selection"] for group in COMPARISON_GROUPS],
        tests=[path for group in COMPARISON_GROUPS for path in comparison_files(*group)["tests"]],
        summaries=comparison_summaries,
    output:
        table=report_table("methods_comparison", "methods_comparison_table.rst"),
        png=report(f"{FIGURES}/methods_comparison.png", caption="../resources/report/methods_comparison.rst",
                   category="Figures"),
        pdf=f"{FIGURES}/methods_comparison.pdf",
    params:
        groups=comparison_manifest,
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/methods_comparison.log",
    script:
        "../workflow_scripts/methods_comparison.py"
