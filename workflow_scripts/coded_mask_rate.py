"""Rule coded_mask_rate: per model, total coded bits over total masked weights of the selected masking runs."""

from _common import read_json, setup, write_json

log = setup(snakemake)

rates = {}
for key, model in snakemake.params.models.items():
    coded = [read_json(path)["mask_coded"] for path in snakemake.input[key]]
    bits, weights = sum(c["bits"] for c in coded), sum(c["weights"] for c in coded)
    rates[model] = {
        "bits_per_weight": bits / weights,
        "runs": len(coded),
        "flip_fraction": sum(c["flipped"] for c in coded) / weights,
    }
    log.info("%s: %.4f bit per masked weight over %d runs", model, bits / weights, len(coded))
write_json(snakemake.output[0], rates)
