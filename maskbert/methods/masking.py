"""Masking (paper §3): frozen pretrained weights, a learned binary mask per chosen weight.

Its options are a `MaskingConfig` (the run's seed fills its `seed`). The artifact is `mask.safetensors`
(see `maskbert.artifact`): the 1-bit masks and the randomly initialised head, never the pretrained weights.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from maskbert.families import format_blocks, parse_blocks
from maskbert.masking_config import MaskingConfig
from maskbert.methods.base import BIT_BYTES, FP32_BYTES, Method, StorageItem
from maskbert.methods.options import OptionError, options_from_dict
from maskbert.pretrained import num_blocks_of
from maskbert.rundir import MASK_FILE

if TYPE_CHECKING:
    from torch import nn

# What the setting name spells; any other option that differs from its default adds a hash of them all.
_NAMED = ("masked_blocks", "initial_sparsity")


class Masking(Method):
    name = "masking"
    options_class = MaskingConfig

    def resolve_options(self, options: Mapping | None, model: str | None = None) -> dict:
        """Every MaskingConfig field but `seed` (the run's); with `model`, the blocks spelt out ('2-11')."""
        given = dict(options or {})
        if "seed" in given:
            raise OptionError("masking", "seed", "is the run's seed; set the run's seed instead")
        config = self.masking_config(given)
        if model is not None:
            try:
                config.masked_blocks = format_blocks(parse_blocks(config.masked_blocks, num_blocks_of(model)))
            except ValueError as error:
                raise OptionError(
                    "masking", "masked_blocks", f"{json.dumps(config.masked_blocks)}: {error}"
                ) from None
        resolved = dataclasses.asdict(config)
        del resolved["seed"]
        return json.loads(json.dumps(resolved))

    def setting_name(self, options: Mapping) -> str:
        """`blocks2-11_sparsity0.05`, plus `_` and a hash when another option is not its default."""
        name = f"blocks{options.get('masked_blocks') or 'default'}_sparsity{float(options['initial_sparsity'])!r}"
        defaults = self.resolve_options({})
        others = {k: v for k, v in options.items() if k not in _NAMED and v != defaults.get(k)}
        return f"{name}_{super().setting_name(others)}" if others else name

    @staticmethod
    def masking_config(options: MaskingConfig | Mapping | None, seed: int | None = None) -> MaskingConfig:
        """A MaskingConfig from a full one or from a run's options (missing or None: the default)."""
        if isinstance(options, MaskingConfig):
            config = dataclasses.replace(options)
        else:
            given = {key: value for key, value in (options or {}).items() if value is not None}
            config = options_from_dict(MaskingConfig, given, "masking")
        if seed is not None:
            config.seed = seed
        return config

    def build(
        self, model_name: str, task, seed: int, options: MaskingConfig | Mapping | None = None
    ) -> nn.Module:
        """The task model with its chosen layers masked; `seed` fixes the head and the initial masks."""
        from maskbert.masking import mask_model
        from maskbert.modeling import load_task_model

        return mask_model(load_task_model(model_name, task, seed), self.masking_config(options, seed))

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
        path = save_artifact(model, Path(artifact_dir) / MASK_FILE, base_model=record["model"], task=task)
        # The artifact keeps the paper's 1 bit per weight; the summary also records what the same masks take
        # entropy-coded against their seeded initial masks (maskbert.coding), for the memory tables, and the
        # bytes of that coded artifact as it would lie on disk (written aside, measured, removed).
        with tempfile.TemporaryDirectory() as scratch:
            coded = save_artifact(
                model, Path(scratch) / MASK_FILE, base_model=record["model"], task=task, coding="flips"
            )
            coded_bytes = coded.stat().st_size
        return {
            "artifact_bytes": path.stat().st_size,
            "artifact_bytes_coded": coded_bytes,
            "masked_weights": sum(m.numel() for m in binary_masks(model).values()),
            "mask_coded": mask_coded_size(path),
        }

    def load(self, artifact_dir: Path, record: dict, device: str = "cpu") -> nn.Module:
        from maskbert.artifact import load_artifact

        model, _ = load_artifact(Path(artifact_dir) / MASK_FILE, base_model=record["model"], device=device)
        return model

    def task_storage(
        self, model: str, kind: str, head_outputs: int, options: Mapping | None = None
    ) -> list[StorageItem]:
        """The pretrained model once; per task 1 bit per masked weight and classifier weight, the head's
        dense layer in fp32 (not pretrained, so not maskable away); one fp32 classifier per shape."""
        from maskbert.sizes import model_sizes

        config = self.masking_config(options)
        sizes = model_sizes(model, config.masked_blocks, config.layer_types, kind)
        shape = f"{sizes['hidden_size']}x{head_outputs}"
        classifier = sizes["hidden_size"] * head_outputs
        items = [
            StorageItem("pretrained", sizes["pretrained_params"], FP32_BYTES, shared="base"),
            StorageItem("masked weights", sizes["masked_weights"], BIT_BYTES),
        ]
        if sizes["head_dense_params"]:
            items.append(
                StorageItem(
                    "head dense layer", sizes["head_dense_params"], FP32_BYTES, detail="(not pretrained)"
                )
            )
        items += [
            StorageItem("classifier", classifier, FP32_BYTES, shared="head", detail=shape),
            StorageItem("classifier mask", classifier, BIT_BYTES, detail=shape),
        ]
        return items
