"""Rule figure4_vectors: [CLS] vectors of the pretrained, finetuned and masked model of one seed on dev,
reduced with t-SNE, and a logistic-regression probe's cross-validated accuracy on each."""

from _common import job_device, selected_pair, setup, write_json

log = setup(snakemake)

from reproduction.analysis.representations import probe_accuracy, run_vectors, split_labels, tsne_2d

p = snakemake.params
finetuned, masked, prepared = selected_pair(snakemake)
with job_device(snakemake) as device:
    vectors = run_vectors(finetuned, masked, prepared, "dev", p.batch_size, device)
labels = split_labels(prepared, "dev")
panels = {}
for kind, matrix in vectors.items():
    folds = probe_accuracy(matrix, labels, p.folds, p.random_state)
    panels[kind] = {"points": tsne_2d(matrix, p.random_state).tolist(), "probe_folds": folds.tolist()}
    log.info("%s: probe accuracy %.2f", kind, folds.mean())
write_json(
    snakemake.output[0],
    {
        "model": p.model,
        "task": prepared.task.name,
        "seed": p.seed,
        "label_names": list(prepared.task.label_names),
        "labels": labels.tolist(),
        "runs": {"finetuned": finetuned, "masked": masked},
        "panels": panels,
    },
)
