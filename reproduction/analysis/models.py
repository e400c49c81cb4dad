"""The models of one seed as weights over one network: pretrained (with the seed's random classifier),
finetuned and masked (its effective weights W ⊙ M), so that paths between them can be evaluated.

Both methods start from ``load_task_model(model, task, seed)``, which seeds the classifier's random
initialisation before loading the checkpoint; loading it again gives the pretrained end with exactly the
classifier both runs started from.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call

from maskbert.data import get_task
from maskbert.evaluation import Predictions, predict
from maskbert.masking import masked_layers
from maskbert.methods import load_run_model
from maskbert.modeling import load_task_model
from maskbert.rundir import read_run


def pretrained_model(run_dir: str | Path, device: str = "cpu") -> nn.Module:
    """The run's starting point: the pretrained checkpoint under the head its seed initialised."""
    record = read_run(run_dir)
    model = load_task_model(record["model"], get_task(record["task"]), int(record["seed"]))
    return model.to(device).eval()


@torch.no_grad()
def effective_parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters as a plain (unmasked) network of the same class would hold them.

    A masked layer contributes ``weight * binary_mask`` under its weight's name and no scores, so the
    result loads into the finetuned model; an unmasked model's parameters are returned as they are.
    """
    params = {name: p.detach() for name, p in model.named_parameters() if not name.endswith(".scores")}
    for name, layer in masked_layers(model).items():
        params[f"{name}.weight"] = layer.weight * layer.binary_mask()
    return params


def check_same_layout(reference: dict[str, torch.Tensor], other: dict[str, torch.Tensor], what: str) -> None:
    """Refuse two weight sets that are not the same network (names and shapes)."""
    if reference.keys() != other.keys():
        extra = sorted(set(other) ^ set(reference))[:3]
        raise ValueError(f"{what}: parameter names differ from the reference network's (e.g. {extra})")
    for name, tensor in reference.items():
        if tensor.shape != other[name].shape:
            raise ValueError(
                f"{what}: parameter {name} has shape {tuple(other[name].shape)}, "
                f"expected {tuple(tensor.shape)}"
            )


class WithParameters(nn.Module):
    """`network` run with other parameter values (its buffers kept), without copying into it."""

    def __init__(self, network: nn.Module, parameters: dict[str, torch.Tensor]):
        super().__init__()
        self.network = network
        self.values = parameters

    def forward(self, **inputs):
        return functional_call(self.network, self.values, args=(), kwargs=inputs)


def evaluate(model: nn.Module, prepared, split: str, batch_size: int, device: str) -> Predictions:
    """Predictions of `model` on a prepared split (a one-line error when the split is missing)."""
    if split not in prepared.splits:
        raise ValueError(
            f"{prepared.path}: task '{prepared.task.name}' has no '{split}' split; "
            f"it has {sorted(prepared.splits)}"
        )
    return predict(model, prepared.splits[split], prepared.task, prepared.pad_token_id, batch_size, device)


def load_pair(finetuned_run: str | Path, masked_run: str | Path, device: str = "cpu"):
    """The finetuned network (its own parameters are W0) and the masked model's effective weights (W1).

    The masked model is freed once its weights are taken, so one network is held at a time.
    """
    finetuned, masked = read_run(finetuned_run), read_run(masked_run)
    if finetuned["method"] != "finetuning" or masked["method"] != "masking":
        raise ValueError(
            f"{finetuned_run}, {masked_run}: expected a finetuning and a masking run, got "
            f"{finetuned['method']} and {masked['method']}"
        )
    for key in ("model", "task", "seed"):
        if finetuned[key] != masked[key]:
            raise ValueError(
                f"{finetuned_run} and {masked_run}: run.json key '{key}' differs "
                f"({finetuned[key]!r} vs {masked[key]!r}); both ends must share it"
            )
    network = load_run_model(finetuned_run, device=device)
    masked_weights = effective_parameters(load_run_model(masked_run, device=device))
    check_same_layout(dict(network.named_parameters()), masked_weights, str(masked_run))
    return network, masked_weights
