# The §5.1 and §5.2 sweeps over the masking setting: Figure 1 (initial sparsity) and Figure 2 / Table 7
# (which transformer blocks are masked); config section `sweeps:`, checked by reproduction.workflow_config
# before any job runs and enumerated with the main grid (reproduction.grid.Grid: GRID.figure1, its runs, and
# GRID.layerwise, its selections). A sweep set to null has no jobs, and its target is empty.
#
# Every training point goes through the train rule at the path of its setting, so a point
# that the main grid or the other sweep needs too is one job: BERT 2-11 at 5% is the main grid's masking
# setting, Figure 1's 0-11 runs at 5e-5 and 5%/15% are points of the layer-wise 0-11 grid, and Table 7's
# finetuning row is the main grid's finetuning selection.

from dataclasses import asdict

from reproduction.grid import model_blocks

FIGURE1_RUNS = GRID.figure1
LAYERWISE_GROUPS = GRID.layerwise

SWEEP_OUTPUTS = {
    "figure1": table_files("figure1_initial_sparsity") + figure_files("figure1_initial_sparsity")
    if FIGURE1_RUNS else [],
    "figure2": table_files("table7_layerwise") + figure_files("figure2_layerwise") if LAYERWISE_GROUPS else [],
}


rule figure1:
    input:
        SWEEP_OUTPUTS["figure1"],


rule figure2:
    input:
        SWEEP_OUTPUTS["figure2"],


rule figure1_initial_sparsity:
    input:
        summaries=[run_file(p, "summary.json") for p in FIGURE1_RUNS],
        runs=[run_file(p, "run.json") for p in FIGURE1_RUNS],
    output:
        table=report_table("figure1_initial_sparsity", "figure1_table.rst"),
        figure=report_figure("figure1_initial_sparsity", "figure1.rst"),
    params:
        points=[{**asdict(p), "options": GRID.options(p.method, p.setting)} for p in FIGURE1_RUNS],
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/figure1_initial_sparsity.log",
    script:
        "../workflow_scripts/figure1.py"


rule figure2_table7_layerwise:
    input:
        masking=[group_path(SELECT_JSON, g) for g in LAYERWISE_GROUPS if g.method == "masking"],
        finetuning=[group_path(SELECT_JSON, g) for g in LAYERWISE_GROUPS if g.method == "finetuning"],
        paper=PAPER_RESULTS,
    output:
        table=report_table("table7_layerwise", "table7.rst"),
        figure=report_figure("figure2_layerwise", "figure2.rst"),
    params:
        num_blocks={g.model: model_blocks(config, g.model) for g in LAYERWISE_GROUPS},
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/tables/figure2_table7_layerwise.log",
    script:
        "../workflow_scripts/figure2_table7.py"
