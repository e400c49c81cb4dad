"""Parameter counts of a model and of the parts a method touches, from its config alone (meta device).

The memory accounting (`maskbert.memory`) and the methods' `task_storage` read these; the three paper
models' config.json files ship with the package, so no weights and no network are needed.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from transformers import AutoConfig, AutoModel

from maskbert.families import LAYER_TYPES, family_of
from maskbert.masking import MaskingConfig, masked_layer_names
from maskbert.modeling import HEAD_CLASSES, ModelRecord
from maskbert.pretrained import resolve_model_path, shipped_config_path

# Backbone parameters the released checkpoints do not hold: RoBERTa's are published without the pooler
# (transformers reports roberta.pooler.* as newly initialised), so where a head uses it, it is random.
NOT_IN_CHECKPOINT = {"roberta": ("pooler.",)}


def load_config(model: str):
    """A shipped config for the paper models (works offline), else the model's own."""
    shipped = shipped_config_path(model)
    return AutoConfig.from_pretrained(str(shipped) if shipped else resolve_model_path(model))


def model_sizes(
    model: str, masked_blocks: str | None = None, layer_types=LAYER_TYPES, kind: str = "single"
) -> dict:
    """Pretrained parameter count, masked weight count (chosen blocks + W_P) and hidden size for a task kind.

    The masked layers are found as `mask_model` finds them, on the task kind's head built on the meta
    device. A W_P that is not pretrained (RoBERTa's and DistilBERT's sequence-classification dense layer,
    DistilBERT's multiple-choice pre_classifier, RoBERTa's unreleased pooler under its multiple-choice
    head) is masked like BERT's pooler and also counted as `head_dense_params`, because a mask artifact
    has to store its random fp32 weights. Tagging heads have no W_P.
    """
    return dict(_model_sizes(model, masked_blocks, tuple(layer_types), kind))


@lru_cache(maxsize=64)
def _model_sizes(model: str, masked_blocks: str | None, layer_types: tuple[str, ...], kind: str) -> dict:
    # cached: Figure 3 and Table 2 ask for the same sizes once per task and method
    if kind not in HEAD_CLASSES:
        raise ValueError(f"task kind '{kind}': expected one of {', '.join(HEAD_CLASSES)}")
    config = load_config(model)
    family = family_of(config)
    with torch.device("meta"):
        backbone = AutoModel.from_config(config)
        task_model = HEAD_CLASSES[kind].from_config(config)
    unreleased = NOT_IN_CHECKPOINT.get(family.name, ())
    pretrained = {
        f"{task_model.base_model_prefix}.{name}": p.numel()
        for name, p in backbone.named_parameters()
        if not name.startswith(unreleased)
    }
    names = masked_layer_names(
        task_model, MaskingConfig(masked_blocks=masked_blocks, layer_types=layer_types, mask_classifier=False)
    )
    modules = dict(task_model.named_modules())
    return {
        "pretrained_params": sum(pretrained.values()),
        "masked_weights": sum(modules[n].weight.numel() for n in names),
        "head_dense_params": sum(modules[n].weight.numel() for n in names if f"{n}.weight" not in pretrained),
        "hidden_size": config.hidden_size,
    }


def meta_task_model(model: str, kind: str = "single", head_outputs: int = 2):
    """The task model of `kind` with `head_outputs` outputs on the meta device, its parameters that the
    checkpoint lacks recorded in its `ModelRecord` (as `load_task_model` records them; no fingerprint)."""
    if kind not in HEAD_CLASSES:
        raise ValueError(f"task kind '{kind}': expected one of {', '.join(HEAD_CLASSES)}")
    config = load_config(model)
    family = family_of(config)
    config.num_labels = head_outputs
    with torch.device("meta"):
        backbone = AutoModel.from_config(config)
        task_model = HEAD_CLASSES[kind].from_config(config)
    unreleased = NOT_IN_CHECKPOINT.get(family.name, ())
    pretrained = {
        f"{task_model.base_model_prefix}.{name}"
        for name, _ in backbone.named_parameters()
        if not name.startswith(unreleased)
    }
    task_model.maskbert = ModelRecord(
        sorted(n for n, _ in task_model.named_parameters() if n not in pretrained)
    )
    return task_model


def task_parameters(model: str, kind: str = "single", head_outputs: int = 2) -> dict:
    """What a task model of `kind` with `head_outputs` outputs holds beyond the shared checkpoint, from its
    config on the meta device: `head_params`, every parameter the checkpoint lacks (weights and biases of
    the classifier and of any head dense layer; RoBERTa's pooler where a head reads it), and `bias_params`,
    the checkpoint's bias terms the task model uses (LayerNorm biases included). BitFit stores both."""
    return dict(_task_parameters(model, kind, head_outputs))


@lru_cache(maxsize=64)
def _task_parameters(model: str, kind: str, head_outputs: int) -> dict:
    task_model = meta_task_model(model, kind, head_outputs)
    head = set(task_model.maskbert.random_init)
    params = dict(task_model.named_parameters())
    return {
        "head_params": sum(p.numel() for n, p in params.items() if n in head),
        "bias_params": sum(p.numel() for n, p in params.items() if n not in head and n.endswith(".bias")),
    }
