"""Rule figure1_initial_sparsity: Figure 1 (§5.1) and its numbers, from the runs' summaries."""

from _common import read_json, setup

log = setup(snakemake)

from reproduction.figures import figure1
from reproduction.report import write_table
from reproduction.sweep_tables import figure1_table

p = snakemake.params
inputs = snakemake.input
runs = []
for point, summary_path, run_path in zip(p.points, inputs.summaries, inputs.runs, strict=True):
    run = read_json(run_path)
    # The run must be the point it stands for: its recorded options, rate and seed, not its path, are checked.
    recorded = (run["options"], float(run["lr"]), int(run["seed"]))
    expected = (point["options"], float(point["lr"]), int(point["seed"]))
    if recorded != expected:
        raise ValueError(f"{run_path}: run records (options, lr, seed) {recorded}, expected {expected}")
    summary = read_json(summary_path)
    runs.append(
        {
            **point,
            "initial_sparsity": float(point["options"]["initial_sparsity"]),
            "metric": summary["metric"],
            "dev_score": float(summary["best_dev_score"]),
        }
    )

table = figure1_table(runs)
write_table(table, snakemake.output.table)
figure1(table, snakemake.output.figure)
log.info("Figure 1: %d runs, %d points", len(runs), len(table.data))
