"""Rule ensemble: the seeds' predictions combined three ways, picked on dev, reported on test."""

from _common import read_json, setup, write_json

log = setup(snakemake)

from maskbert.data import get_task
from maskbert.ensemble import evaluate_ensemble_files
from maskbert.memory import ensemble_memory_mb

p = snakemake.params
selection = read_json(snakemake.input.selection)
spec = get_task(p.task)
result = evaluate_ensemble_files(
    snakemake.input.dev_predictions,
    spec,
    snakemake.input.test_predictions,
    p.ensemble_methods,
)
members = len(p.seeds)
memory_labels = spec.head_outputs  # classifier width: 1 for multiple choice (SWAG)
result.update(
    {
        "model": p.model,
        "task": p.task,
        "method": p.method,
        "metric": spec.metric,
        "seeds": list(p.seeds),
        "selected_lr": selection["best_lr"],
        "memory_mb": {
            kind: ensemble_memory_mb(p.model_source, memory_labels, n, p.method, p.options, kind=spec.kind)
            for kind, n in (("single", 1), ("ensemble", members))
        },
        "memory_note": f"classifier with {memory_labels} outputs; ensemble of {members} seed runs",
    }
)
write_json(snakemake.output[0], result)
log.info(
    "%s %s %s: %s ensemble, dev %.2f, test %.2f",
    p.model,
    p.task,
    p.method,
    result["selected"],
    result["dev"],
    result["test"],
)
