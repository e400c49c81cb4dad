# maskbert: the paper's experiments as a DAG, from data to Tables 1-8 and Figures 1-7, plus a comparison
# of masking with today's parameter-efficient methods (BitFit, LoRA, (IA)^3).
#
#   snakemake tables --cores 4 --resources gpu=4          # everything, on a machine with 4 GPUs
#   snakemake paper_main --cores 4 --resources gpu=4      # the main grid alone: Tables 1, 2, 4, 5, 6, 8, Figure 3
#   snakemake tables --profile profiles/slurm             # on a Slurm cluster (docs/CLUSTER.md)
#   snakemake tables --cores 2 --configfile config/demo.yaml   # the offline demo (MiniLM, synthetic tasks)
#   snakemake tables --report results/report.html         # one HTML report of every table and figure
#
# Stages (one file each under rules/): data -> train -> select -> test -> ensemble -> aggregate. The
# §5.1/§5.2 sweeps (rules/sweeps.smk: figure1, figure2 with Table 7), the §6/App. B analyses
# (rules/analyses.smk: table3, figure4-figure7) and the methods comparison (rules/comparison.smk:
# methods_comparison) reuse train and select. See docs/WORKFLOW.md.

from snakemake.utils import min_version

min_version("9.0")


from snakemake.exceptions import WorkflowError

from reproduction.configfile import yaml_syntax_error

try:

    configfile: "config.yaml"

except WorkflowError as error:  # Snakemake's own message names neither file nor line
    raise WorkflowError(yaml_syntax_error("config.yaml") or str(error)) from None


report: "resources/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/select.smk"
include: "rules/test.smk"
include: "rules/ensemble.smk"
include: "rules/aggregate.smk"
include: "rules/sweeps.smk"


# §6 / App. B analyses (config key `analyses`; a config without it runs none).
ANALYSIS_OUTPUTS = {}
if config.get("analyses"):

    include: "rules/analyses.smk"



# Beyond the paper: masking against today's PEFT methods (config key `comparison`; a config without it runs none).
COMPARISON_OUTPUTS = []
if config.get("comparison"):

    include: "rules/comparison.smk"


# Light bookkeeping runs where snakemake runs, never on a cluster node.
localrules:
    all,
    tables,
    select_round,
    select_lr,
    coded_mask_rate,
    ensemble,
    table1_dev,
    table4_best_lr,
    table2_table6_test_error,
    table5_split_sizes,
    table8_figure3_memory,
    figure1,
    figure2,
    figure1_initial_sparsity,
    figure2_table7_layerwise,
    methods_comparison,


# The paper's main grid (§4, §5.3): Tables 1, 2, 4, 5, 6, 8 and Figure 3.
PAPER_MAIN_OUTPUTS = (
    table_files("table1_dev")
    + table_files("table2_table6_test_error")
    + table_files("table2_memory")
    + table_files("table4_best_lr")
    + table_files("table5_split_sizes")
    + table_files("table8_memory")
    + figure_files("figure3_memory")
)
TABLE_AND_FIGURE_OUTPUTS = (
    PAPER_MAIN_OUTPUTS
    + SWEEP_OUTPUTS["figure1"]
    + SWEEP_OUTPUTS["figure2"]
    + [path for outputs in ANALYSIS_OUTPUTS.values() for path in outputs]
    + COMPARISON_OUTPUTS
)


rule all:
    default_target: True
    input:
        TABLE_AND_FIGURE_OUTPUTS,


rule tables:
    input:
        TABLE_AND_FIGURE_OUTPUTS,


rule methods_comparison:
    input:
        COMPARISON_OUTPUTS,


# The paper's main grid alone, without the sweeps, the analyses and the comparison.
rule paper_main:
    input:
        PAPER_MAIN_OUTPUTS,
