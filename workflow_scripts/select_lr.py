"""Rule select_lr: the final round's learning rate, with how many times the grid was extended."""

from _common import read_json, setup, write_json

log = setup(snakemake)

p = snakemake.params
decision = read_json(snakemake.input[0])
selection = {
    "model": p.model,
    "task": p.task,
    "method": p.method,
    "setting": p.setting,
    "options": p.options,
    **{k: v for k, v in decision.items() if k not in ("round", "next_lrs")},
    "extensions": decision["round"],
}
write_json(snakemake.output[0], selection)
log.info(
    "%s %s %s %s: lr %s after %d extension(s)",
    p.model,
    p.task,
    p.method,
    p.setting,
    selection["best_lr"],
    selection["extensions"],
)
