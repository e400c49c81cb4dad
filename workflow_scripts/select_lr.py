"""Rule select_lr: the final round's learning rate, with how many times the grid was extended."""

from _common import read_json, setup, write_json

log = setup(snakemake, stub=False)  # noqa: F821 - injected by Snakemake

p = snakemake.params  # noqa: F821
decision = read_json(snakemake.input[0])  # noqa: F821
selection = {"model": p.model, "task": p.task, "method": p.method, "setting": p.setting, **p.setting_params,
             **{k: v for k, v in decision.items() if k not in ("round", "next_lrs")},
             "extensions": decision["round"]}  # fmt: skip
write_json(snakemake.output[0], selection)  # noqa: F821
log.info("%s %s %s %s: lr %s after %d extension(s)", p.model, p.task, p.method, p.setting, selection["best_lr"],
         selection["extensions"])  # fmt: skip
