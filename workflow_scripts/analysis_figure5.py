"""Rule figure5: mask dissimilarity s per layer for every pair of tasks (one seed) and of seeds (one task)."""

from pathlib import Path

from _common import read_json, setup

log = setup(snakemake)

from maskbert.rundir import ARTIFACT, MASK_FILE, atomic_path
from reproduction.analysis.masks import mask_dissimilarities
from reproduction.analysis.plots import figure5
from reproduction.analysis.tables import figure5_table
from reproduction.report import write_table

p, inputs, out = snakemake.params, snakemake.input, snakemake.output
artifacts = {}
for task in p.tasks:
    runs = read_json(inputs[task])["runs"]
    for seed in p.seeds:
        artifacts[task, int(seed)] = Path(runs[str(seed)]) / ARTIFACT / MASK_FILE
scores = mask_dissimilarities(artifacts)
scores.insert(0, "model", p.model)
with atomic_path(out.scores) as tmp:
    scores.to_csv(tmp, index=False, float_format="%.6g")
figure5(scores, out.figure, p.model, p.layer_type, p.blocks)
write_table(figure5_table(scores, p.model), out.table)
log.info("Figure 5: %d layer comparisons", len(scores))
