"""Finetuning (the paper's baseline): every weight trains; the artifact is the whole task model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from maskbert.methods.base import FP32_BYTES, Method, StorageItem, artifact_bytes

if TYPE_CHECKING:
    from torch import nn


class Finetuning(Method):
    name = "finetuning"

    def build(self, model_name: str, task, seed: int, options: Mapping | None = None) -> nn.Module:
        from maskbert.modeling import load_task_model

        return load_task_model(model_name, task, seed)

    def save(self, model: nn.Module, artifact_dir: Path, record: dict) -> dict:
        model.save_pretrained(artifact_dir)
        return {"artifact_bytes": artifact_bytes(artifact_dir)}

    def load(self, artifact_dir: Path, record: dict, device: str = "cpu") -> nn.Module:
        from maskbert.modeling import HEAD_CLASSES

        model = HEAD_CLASSES[record["task_kind"]].from_pretrained(artifact_dir)
        return model.to(device).eval()

    def task_storage(
        self, model: str, kind: str, head_outputs: int, options: Mapping | None = None
    ) -> list[StorageItem]:
        """A whole fp32 model per task: pretrained weights, any head dense layer and the classifier."""
        from maskbert.sizes import model_sizes

        sizes = model_sizes(model, kind=kind)
        params = sizes["pretrained_params"] + sizes["head_dense_params"] + sizes["hidden_size"] * head_outputs
        return [StorageItem("finetuned model", params, FP32_BYTES)]
