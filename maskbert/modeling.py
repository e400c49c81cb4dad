"""The task model for (pretrained model, task): the paper's heads on Hugging Face classes.

`load_task_model` is what every method starts from; `maskbert.methods.build_model` adds the method on top.
Two small records travel with models and artifacts: `TaskRecord`, the task as every artifact records it,
and `ModelRecord`, what maskbert knows about a task model beyond Hugging Face's (``model.maskbert``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForMultipleChoice,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from maskbert.families import family_of
from maskbert.pretrained import resolve_model_path

# Sequence classification reads [CLS] (through W_P); tagging reads every wordpiece, and the data layer
# puts each word's label on its last wordpiece; multiple choice scores each choice's [CLS] with a
# 1-output layer and takes a softmax over choices.
HEAD_CLASSES = {
    "single": AutoModelForSequenceClassification,
    "pair": AutoModelForSequenceClassification,
    "tagging": AutoModelForTokenClassification,
    "multiple_choice": AutoModelForMultipleChoice,
}


@dataclass(frozen=True)
class TaskRecord:
    """The task an artifact serves: enough to rebuild its head without the data layer (a TaskSpec has the
    same fields, so either builds a task model)."""

    name: str
    kind: str
    label_names: tuple[str, ...]

    @classmethod
    def of(cls, task) -> TaskRecord:
        """From a TaskSpec, a TaskRecord or a {name, kind, label_names} dict."""
        if isinstance(task, dict):
            return cls(str(task["name"]), str(task["kind"]), tuple(task["label_names"]))
        return cls(getattr(task, "name", "task"), task.kind, tuple(task.label_names))

    @classmethod
    def of_run(cls, record: dict) -> TaskRecord:
        """From a run's run.json."""
        return cls(record["task"], record["task_kind"], tuple(record["label_names"]))

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "label_names": list(self.label_names)}


@dataclass
class ModelRecord:
    """What maskbert knows about a task model, kept on it as ``model.maskbert``: the parameters its
    checkpoint lacked (the randomly initialised head), the fingerprint of the pretrained weights it was
    loaded with, the task it serves, and (once `mask_model` ran) its masking."""

    random_init: list[str]
    base_fingerprint: str | None = None
    task: TaskRecord | None = None
    masking: Any = None  # maskbert.masking.MaskedModelInfo


def model_record(model: nn.Module) -> ModelRecord:
    """``model.maskbert``; for a model maskbert did not load (a user's own), one made from the model: every
    parameter outside its base model counts as the head."""
    record = getattr(model, "maskbert", None)
    if record is None:
        prefix = model.base_model_prefix + "."
        head = sorted(
            n for n, _ in model.named_parameters() if not n.startswith(prefix) and not n.endswith(".scores")
        )
        record = ModelRecord(random_init=head, base_fingerprint=base_fingerprint(model, head))
        model.maskbert = record
    return record


def base_fingerprint(model: nn.Module, head: list[str] | None = None) -> str:
    """Hash of the pretrained parameters' names, shapes and a strided sample of their values.

    The head (`head`, default the model record's) and mask scores are left out, so the fingerprint
    identifies the checkpoint the model was loaded from, not the task head.
    """
    skip = set(model_record(model).random_init if head is None else head)
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if name in skip or name.endswith(".scores"):
            continue
        flat = tensor.detach().reshape(-1).float().cpu()
        sample = flat[:: max(1, flat.numel() // 64)][:64]
        digest.update(f"{name}:{tuple(tensor.shape)}:".encode())
        digest.update(np.round(sample.numpy().astype(np.float64), 6).tobytes())
    return digest.hexdigest()[:32]


def head_kwargs(task) -> dict:
    if task.kind == "multiple_choice":
        return {}
    return {
        "num_labels": len(task.label_names),
        "id2label": dict(enumerate(task.label_names)),
        "label2id": {name: i for i, name in enumerate(task.label_names)},
    }


def load_task_model(model: str, task, seed: int) -> nn.Module:
    """The pretrained weights under the task's head, the head initialised from `seed`.

    The model's `ModelRecord` (``model.maskbert``) keeps the names of the weights that did not come from
    the checkpoint (the randomly initialised head: a method whose artifact leaves out the pretrained
    weights must store them), the fingerprint of the pretrained weights, taken before any training or
    wrapping changes them, and the task.
    """
    path = resolve_model_path(model)
    family_of(AutoConfig.from_pretrained(path))
    torch.manual_seed(seed)
    network, loading_info = HEAD_CLASSES[task.kind].from_pretrained(
        path, output_loading_info=True, **head_kwargs(task)
    )
    head = sorted(loading_info["missing_keys"])
    network.maskbert = ModelRecord(head, base_fingerprint(network, head), TaskRecord.of(task))
    return network
