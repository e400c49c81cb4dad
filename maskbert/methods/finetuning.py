"""Finetuning (the paper's baseline): every weight trains; the artifact is the whole task model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from maskbert.methods.base import FP32_BYTES, ArtifactRecord, Method, StorageItem

if TYPE_CHECKING:
    from torch import nn


class Finetuning(Method):
    name = "finetuning"

    def build(self, model_name: str, task, seed: int, options: Mapping | None = None) -> nn.Module:
        from maskbert.modeling import load_task_model

        return load_task_model(model_name, task, seed)

    def save_files(self, model: nn.Module, artifact_dir: Path, record: ArtifactRecord) -> dict:
        model.save_pretrained(artifact_dir)
        return {}

    def load_files(self, folder: Path, record: ArtifactRecord, base_model: str) -> nn.Module:
        """The saved task model itself (it holds every weight: no base model is read)."""
        from maskbert.artifact import ArtifactError
        from maskbert.modeling import HEAD_CLASSES, ModelRecord

        try:
            model, info = HEAD_CLASSES[record.task.kind].from_pretrained(folder, output_loading_info=True)
        except (OSError, ValueError, RuntimeError) as error:
            raise ArtifactError(
                f"{folder}: not a readable finetuned model ({str(error).splitlines()[0]})"
            ) from None
        missing = info["missing_keys"]
        if missing:
            raise ArtifactError(f"{folder}: the saved model lacks '{sorted(missing)[0]}'")
        model.maskbert = ModelRecord([], record.base_fingerprint, record.task)
        return model

    def check_servable(self, folder: Path) -> None:
        raise ValueError(
            f"{folder}: a finetuning run is a whole model per task and shares no backbone; `maskbert predict` "
            "serves methods that keep only a task's part (score it with `maskbert evaluate`)"
        )

    def task_storage(
        self, model: str, kind: str, head_outputs: int, options: Mapping | None = None
    ) -> list[StorageItem]:
        """A whole fp32 model per task: pretrained weights, any head dense layer and the classifier."""
        from maskbert.sizes import model_sizes

        sizes = model_sizes(model, kind=kind)
        params = sizes["pretrained_params"] + sizes["head_dense_params"] + sizes["hidden_size"] * head_outputs
        return [StorageItem("finetuned model", params, FP32_BYTES)]
