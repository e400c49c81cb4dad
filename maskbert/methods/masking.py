"""Masking (paper §3): frozen pretrained weights, a learned binary mask per chosen weight.

Its options are a `MaskingConfig` (the run's seed fills its `seed`). The artifact is `mask.safetensors`
(see `maskbert.artifact`): the masks (1 bit per weight, or entropy-coded below that) and the randomly
initialised head, never the pretrained weights. Served (`MaskTask`), a mask zeroes the shared backbone's
weights it masks out, in place, and puts them back when the task goes off.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from maskbert.families import format_blocks, parse_blocks
from maskbert.masking_config import MaskingConfig
from maskbert.methods.base import (
    BIT_BYTES,
    FP32_BYTES,
    ArtifactRecord,
    Method,
    ServedTask,
    StorageItem,
    artifact_bytes,
    plain,
)
from maskbert.methods.options import OptionError, options_from_dict
from maskbert.pretrained import num_blocks_of
from maskbert.rundir import MASK_FILE

if TYPE_CHECKING:
    import torch
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

    def save_files(
        self, model: nn.Module, artifact_dir: Path, record: ArtifactRecord, coding: str = "bits"
    ) -> dict:
        """``mask.safetensors`` in `coding` (a run keeps the paper's 1 bit per weight). The masks are
        entropy-coded against their seeded initial masks once (maskbert.coding): the summary records what
        they take coded, and the bytes of the coded artifact as it would lie on disk (written aside,
        measured, removed), for the memory tables."""
        from maskbert.artifact import save_artifact
        from maskbert.coding import code_masks
        from maskbert.masking import binary_masks
        from maskbert.modeling import model_record

        info = model_record(model).masking
        masks = binary_masks(model)
        coded, coded_size = code_masks(masks, info.config, info.layer_names)
        saved = {"base_model": record.base_model, "task": record.task, "coded": coded}
        save_artifact(model, Path(artifact_dir) / MASK_FILE, coding=coding, **saved)
        with tempfile.TemporaryDirectory() as scratch:
            save_artifact(model, Path(scratch) / MASK_FILE, coding="flips", **saved)
            record.write(scratch)
            coded_bytes = artifact_bytes(scratch)
        return {
            "artifact_bytes_coded": coded_bytes,
            "masked_weights": sum(m.numel() for m in masks.values()),
            "mask_coded": coded_size,
        }

    def load_files(self, folder: Path, record: ArtifactRecord, base_model: str) -> nn.Module:
        from maskbert.artifact import load_artifact

        return load_artifact(folder / MASK_FILE, base_model=base_model)[0]

    def served_task(
        self, name: str, folder: Path, record: ArtifactRecord, model: nn.Module, server
    ) -> MaskTask:
        """The mask as a task on the shared backbone: its layers checked against the backbone's linear
        layers, and decoded once now, so that a bad file fails when it is added, not mid-stream."""
        from torch import nn

        from maskbert.artifact import HEAD_PREFIX, ArtifactError, artifact_masks, check_base, read_artifact
        from maskbert.modeling import model_record

        file = folder / MASK_FILE
        metadata, tensors = read_artifact(file)
        fingerprint = model_record(model).base_fingerprint
        check_base(
            str(file), metadata["base_model"], metadata["base_fingerprint"], fingerprint, server.base_model
        )
        modules = dict(model.named_modules())
        for layer, shape in metadata["layers"].items():
            if (
                layer + ".weight" in metadata["random_init"]
            ):  # the task's own head layer: its shape is the task's
                continue
            module = plain(modules[layer]) if layer in modules else None
            if not isinstance(module, nn.Linear) or list(module.weight.shape) != shape:
                raise ArtifactError(
                    f"{file}: layer '{layer}' with shape {shape} is not a linear layer of the base model"
                )
        artifact_masks(metadata, tensors, str(file))
        head = {n: tensors[HEAD_PREFIX + n] for n in metadata["random_init"]}
        masks = {n: t for n, t in tensors.items() if not n.startswith(HEAD_PREFIX)}
        return MaskTask(name, record.task.kind, record.task.label_names, file, head, metadata, masks)

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


@dataclass
class MaskTask(ServedTask):
    """A mask on the shared backbone. The backbone's linear layers stay plain, holding the active task's
    masked weights W * M, so a forward pass costs what the unmasked model's does. Putting it on decodes
    its masks (stored as in its file: coded below one bit per weight, or 1-bit) and zeroes its zeros,
    keeping the zeroed pretrained values aside; taking it off puts them back."""

    metadata: dict = field(default_factory=dict)
    mask_tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    aside: dict = field(default_factory=dict)  # layer -> (positions zeroed, their pretrained values)

    def put_on(self, model: nn.Module) -> None:
        import numpy as np
        import torch

        from maskbert.artifact import artifact_masks

        for layer_name, mask in artifact_masks(self.metadata, self.mask_tensors, str(self.path)).items():
            layer = plain(model.get_submodule(layer_name))
            weights = _flat(layer.weight)
            positions = np.flatnonzero(~mask.reshape(-1).numpy()).astype(np.int32)
            if not isinstance(weights, np.ndarray):
                positions = torch.from_numpy(positions).to(weights.device, torch.long)
            if layer_name + ".weight" not in self.head:  # a backbone weight: what is zeroed goes back later
                kept = weights[positions]
                self.aside[layer] = (positions, kept.copy() if isinstance(kept, np.ndarray) else kept.clone())
            weights[positions] = 0.0

    def take_off(self, model: nn.Module) -> None:
        for layer, (positions, values) in self.aside.items():
            _flat(layer.weight)[positions] = values
        self.aside.clear()

    def stored_bytes(self) -> int:
        return super().stored_bytes() + sum(t.numel() * t.element_size() for t in self.mask_tensors.values())

    def aside_bytes(self) -> int:
        return sum(positions.nbytes + values.nbytes for positions, values in self.aside.values())


def _flat(weight: torch.Tensor):
    """A flat view of a weight to index in place: numpy on the CPU (single-threaded, unlike torch's indexing,
    which a busy machine's thread pool slows many times), the tensor itself on an accelerator."""
    flat = weight.detach().view(-1)
    return flat.numpy() if flat.device.type == "cpu" else flat
