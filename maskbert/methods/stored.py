"""What a method that stores only a task's own part (BitFit, peft) records beside its tensors.

Like a mask artifact, such an artifact names its base model and a fingerprint of it (taken on the freshly
loaded task model, before training or wrapping changes anything), and the task it serves, so that it can
be put back on the right base alone: by `Method.load`, or by `maskbert predict` on a shared backbone.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn


def task_record(record: dict) -> dict:
    """{name, kind, label_names} of a run's task, from its run.json."""
    return {"name": record["task"], "kind": record["task_kind"], "label_names": list(record["label_names"])}


def task_view(fields: dict) -> SimpleNamespace:
    """The task fields `load_task_model` reads, without the data layer."""
    return SimpleNamespace(name=fields["name"], kind=fields["kind"], label_names=tuple(fields["label_names"]))


def load_base(model_name: str, task: dict, seed: int) -> nn.Module:
    """The freshly loaded task model, its base fingerprint recorded as ``maskbert_base_fingerprint``."""
    from maskbert.artifact import base_fingerprint
    from maskbert.modeling import load_task_model

    model = load_task_model(model_name, task_view(task) if isinstance(task, dict) else task, seed)
    model.maskbert_base_fingerprint = base_fingerprint(model)
    return model


def artifact_info(method: str, model: nn.Module, record: dict) -> dict:
    """The artifact's description: method, base model and fingerprint, task."""
    return {
        "method": method,
        "base_model": record["model"],
        "base_fingerprint": model.maskbert_base_fingerprint,
        "task": task_record(record),
    }


def check_base(fingerprint: str, info: dict, where: str, served: str | None = None) -> None:
    """Refuse an artifact made for another base checkpoint than the one loaded (fingerprint `fingerprint`)."""
    from maskbert.artifact import ArtifactError

    if fingerprint != info["base_fingerprint"]:
        raise ArtifactError(
            f"{where}: made for base model '{info['base_model']}' (fingerprint {info['base_fingerprint']}), "
            f"but the base model '{served or info['base_model']}' loaded has fingerprint {fingerprint}"
        )
