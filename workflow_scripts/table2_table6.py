"""Rule table2_table6_test_error: Tables 2/6 (test error, single and ensemble) and Table 2's memory."""

from _common import read_json, setup

log = setup(snakemake)

from maskbert.memory import ensemble_memory_mb
from reproduction.memory_tables import table2_memory
from reproduction.report import load_paper, write_table
from reproduction.tables import table2_6

p = snakemake.params
paper = load_paper(snakemake.input.paper)
errors = table2_6([read_json(path) for path in snakemake.input.ensembles], paper)
write_table(errors, snakemake.output.errors)

members = len(p.seeds)
rates = read_json(snakemake.input.coded_rate) if snakemake.input.coded_rate else {}


def coded_mb(model, method, n):
    """The same, with the masks coded at the rate measured on this model's runs (masking only)."""
    if method != "masking" or model not in rates:
        return None
    return ensemble_memory_mb(
        p.model_sources[model],
        2,
        n,
        method,
        p.method_options[model][method],
        mask_bits_per_weight=rates[model]["bits_per_weight"],
    )


rows = [
    {
        "model": model,
        "method": method,
        "kind": kind,
        "members": n,
        "num_labels": 2,
        "memory_mb": ensemble_memory_mb(
            p.model_sources[model], 2, n, method, p.method_options[model][method]
        ),
        "coded_mb": coded_mb(model, method, n),
    }
    for model in p.models
    for method in p.methods
    for kind, n in (("single", 1), ("ensemble", members))
]
write_table(table2_memory(rows, paper), snakemake.output.memory)
log.info("Tables 2/6: %d rows", len(errors.data))
