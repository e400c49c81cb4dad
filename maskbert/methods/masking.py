"""Masking (paper §3): frozen pretrained weights, a learned binary mask per chosen weight.

The artifact is `mask.safetensors` (see `maskbert.artifact`): the 1-bit masks and the randomly
initialised head, never the pretrained weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from maskbert.methods.base import BIT_BYTES, FP32_BYTES, Method, StorageItem

if TYPE_CHECKING:
    from torch import nn

    from maskbert.masking import MaskingConfig

ARTIFACT_FILE = "mask.safetensors"


class Masking(Method):
    name = "masking"
    options = ("masked_blocks", "initial_sparsity")

    def resolve_options(self, options: Mapping) -> dict:
        config = self.masking_config(options)
        return {"masked_blocks": config.masked_blocks, "initial_sparsity": config.initial_sparsity}

    @classmethod
    def masking_config(cls, options: MaskingConfig | Mapping | None) -> MaskingConfig:
        """A MaskingConfig from a full one or from TrainConfig-style options (None or missing: the default)."""
        from maskbert.masking import MaskingConfig

        if isinstance(options, MaskingConfig):
            return dataclasses.replace(options)
        given = {key: (options or {}).get(key) for key in cls.options}
        return MaskingConfig(**{key: value for key, value in given.items() if value is not None})

    def build(
        self, model_name: str, task, seed: int, options: MaskingConfig | Mapping | None = None
    ) -> nn.Module:
        """The task model with its chosen layers masked; `seed` fixes the head and the initial masks."""
        from maskbert.masking import mask_model
        from maskbert.modeling import load_task_model

        config = self.masking_config(options)
        config.seed = seed
        return mask_model(load_task_model(model_name, task, seed), config)

    def start_state(self, model: nn.Module):
        from maskbert.masking import binary_masks

        return binary_masks(model)

    def epoch_stats(self, model: nn.Module, start_state) -> dict:
        from maskbert.masking import binary_masks, mask_changes, masking_report

        return {
            "mask_sparsity": masking_report(model)["sparsity"],
            "mask_changed": mask_changes(start_state, binary_masks(model)),
        }

    def save(self, model: nn.Module, artifact_dir: Path, record: dict) -> dict:
        from maskbert.adapter import mask_coded_size
        from maskbert.artifact import save_artifact
        from maskbert.masking import binary_masks

        task = {"name": record["task"], "kind": record["task_kind"], "label_names": record["label_names"]}
        path = save_artifact(model, Path(artifact_dir) / ARTIFACT_FILE, base_model=record["model"], task=task)
        # The artifact keeps the paper's 1 bit per weight; the summary also records what the same masks take
        # entropy-coded against their seeded initial masks (maskbert.coding), for the memory tables.
        return {
            "artifact_bytes": path.stat().st_size,
            "masked_weights": sum(m.numel() for m in binary_masks(model).values()),
            "mask_coded": mask_coded_size(path),
        }

    def load(self, artifact_dir: Path, record: dict, device: str = "cpu") -> nn.Module:
        from maskbert.artifact import load_artifact

        model, _ = load_artifact(
            Path(artifact_dir) / ARTIFACT_FILE, base_model=record["model"], device=device
        )
        return model

    def task_storage(self, sizes, head_outputs: int) -> list[StorageItem]:
        """The pretrained model once; per task 1 bit per masked weight and classifier weight, the head's
        dense layer in fp32 (not pretrained, so not maskable away); one fp32 classifier per shape."""
        classifier = sizes["hidden_size"] * head_outputs
        items = [
            StorageItem("pretrained model", sizes["pretrained_params"], FP32_BYTES, shared="base"),
            StorageItem("masks", sizes["masked_weights"], BIT_BYTES),
            StorageItem("classifier mask", classifier, BIT_BYTES),
            StorageItem(f"classifier {head_outputs} outputs", classifier, FP32_BYTES, shared="head"),
        ]
        if sizes["head_dense_params"]:
            items.append(StorageItem("head dense layer", sizes["head_dense_params"], FP32_BYTES))
        return items
