"""A masked model as a self-describing directory, the way adapters are shared: save, load, merge.

    save_masks(model, "my-mask", base_model="bert-base-uncased")   # masking_config.json + mask.safetensors
    model = load_masked("my-mask")                                   # base model from the recorded name
    save_merged(model, "plain-model")                                # W * M baked in: AutoModelFor... loads it

``masking_config.json`` holds what a reader needs without the task registry: the masking config, the
base model's name and fingerprint, the task's name, kind and label names, the mask file and how its masks
are coded. The tensors and their checksums live in the mask file, a maskbert.artifact file.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import uuid
from pathlib import Path

import torch
from torch import nn

from maskbert.artifact import (
    ArtifactError,
    artifact_masks,
    base_fingerprint,
    init_order,
    load_artifact,
    masking_config,
    read_artifact,
    save_artifact,
)
from maskbert.coding import coded_size
from maskbert.masking import masked_layers
from maskbert.rundir import MASK_FILE

CONFIG_NAME = "masking_config.json"
FORMAT_VERSION = 1
KIND_OF_HEAD = {
    "ForTokenClassification": "tagging",
    "ForMultipleChoice": "multiple_choice",
    "ForSequenceClassification": "single",
}


def _task_record(model: nn.Module, task) -> dict:
    """{name, kind, label_names} from a TaskSpec-like object, a dict, or (None) the model's own head."""
    if isinstance(task, dict):
        return {"name": task["name"], "kind": task["kind"], "label_names": list(task["label_names"])}
    if task is not None:
        return {"name": task.name, "kind": task.kind, "label_names": list(task.label_names)}
    kind = next((k for suffix, k in KIND_OF_HEAD.items() if type(model).__name__.endswith(suffix)), None)
    if kind is None:
        raise ValueError(
            f"{type(model).__name__}: cannot tell the task kind; pass task={{'name', 'kind', 'label_names'}}"
        )
    labels = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    return {"name": "task", "kind": kind, "label_names": labels}


def _replace_dir(tmp: Path, directory: Path) -> None:
    """Put the finished `tmp` at `directory`, moving an older copy aside first (a reader never sees half)."""
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(directory, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp, directory)


def save_masks(
    model: nn.Module,
    directory: str | Path,
    *,
    base_model: str | None = None,
    task=None,
    coding: str = "flips",
) -> Path:
    """Write a masked model's masks and head as a directory that load_masked() reads back on its own.

    `base_model` is the name or path the model was built from (default: the one transformers recorded);
    `coding` "flips" stores the masks below one bit per weight (maskbert.coding), "bits" one bit each.
    """
    if not hasattr(model, "maskbert_masking"):
        raise ValueError(f"{type(model).__name__} is not masked: build it with maskbert.masking.mask_model")
    directory = Path(directory)
    base_model = base_model or model.config.name_or_path
    record = _task_record(model, task)
    tmp = directory.with_name(f".{directory.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        save_artifact(model, tmp / MASK_FILE, base_model=base_model, task=record, coding=coding)
        config = {
            "format_version": FORMAT_VERSION,
            "masking": model.maskbert_masking.config.to_dict(),
            "base_model": base_model,
            "base_fingerprint": base_fingerprint(model),
            "model_type": model.config.model_type,
            "task": record,
            "mask_file": MASK_FILE,
            "mask_coding": coding,
        }
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        _replace_dir(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def read_masking_config(directory: str | Path) -> dict:
    """The masking_config.json of a mask directory, checked for the fields load_masked needs."""
    path = Path(directory) / CONFIG_NAME
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(
            f"{path}: no such file; expected a directory written by maskbert.adapter.save_masks"
        ) from None
    except json.JSONDecodeError as error:
        raise ArtifactError(f"{path}: not valid JSON: {error}") from error
    for key in ("format_version", "masking", "base_model", "base_fingerprint", "task", "mask_file"):
        if key not in config:
            raise ArtifactError(f"{path}: field '{key}' is missing")
    if config["format_version"] != FORMAT_VERSION:
        raise ArtifactError(f"{path}: format_version {config['format_version']}, expected {FORMAT_VERSION}")
    return config


def mask_file(path: str | Path) -> Path:
    """The mask file behind a mask directory, a run directory, a run's artifact/ folder, or the file itself."""
    path = Path(path)
    if path.is_file():
        return path
    if (path / CONFIG_NAME).is_file():
        config = read_masking_config(path)
        return path / config["mask_file"]
    for candidate in (path / MASK_FILE, path / "artifact" / MASK_FILE):
        if candidate.is_file():
            return candidate
    raise ArtifactError(f"{path}: no {CONFIG_NAME}, {MASK_FILE} or artifact/{MASK_FILE} found")


def load_masked(path: str | Path, base_model: str | None = None, device: str = "cpu") -> nn.Module:
    """The masked model saved at `path` (see mask_file), on the recorded base model or on `base_model`.

    The task it was trained for is kept on the model as ``maskbert_task`` ({name, kind, label_names}).
    """
    path = Path(path)
    file = mask_file(path)
    model, metadata = load_artifact(file, base_model=base_model, device=device)
    if (path / CONFIG_NAME).is_file():
        recorded = read_masking_config(path)["base_fingerprint"]
        if recorded != metadata["base_fingerprint"]:
            raise ArtifactError(
                f"{path / CONFIG_NAME}: base_fingerprint {recorded} disagrees with {file.name}'s "
                f"{metadata['base_fingerprint']}"
            )
    model.maskbert_task = dict(metadata["task"])
    return model


def mask_coded_size(path: str | Path) -> dict:
    """coded_size() of the masks saved at `path` (a mask directory, run directory or mask file, either coding).

    What a run's summary.json and the memory tables record as "masking, coded": {bits, bits_per_weight,
    entropy_bits, entropy_bits_per_weight, weights, flipped, flip_fraction}.
    """
    file = mask_file(path)
    metadata, tensors = read_artifact(file)
    return coded_size(
        artifact_masks(metadata, tensors, str(file)), masking_config(metadata), init_order(metadata)
    )


@torch.no_grad()
def merge_masks(model: nn.Module) -> nn.Module:
    """Bake each mask into its weight (W * M) and put plain nn.Linear layers back, in place.

    The result is an ordinary transformers model: same logits, no scores, nothing maskbert-specific.
    """
    for name, layer in masked_layers(model).items():
        merged = nn.Linear(
            layer.in_features,
            layer.out_features,
            bias=layer.bias is not None,
            device=layer.weight.device,
            dtype=layer.weight.dtype,
        )
        merged.weight.copy_(layer.weight * layer.binary_mask())
        if layer.bias is not None:
            merged.bias.copy_(layer.bias)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, merged)
    for attribute in ("maskbert_masking", "maskbert_random_init"):
        if hasattr(model, attribute):
            delattr(model, attribute)
    return model


def save_merged(model: nn.Module, directory: str | Path, tokenizer=None) -> Path:
    """Write a merged copy of a masked model as a save_pretrained folder (the model itself stays masked).

    The tokenizer (given, or the base model's when it can be loaded) is saved beside it, so the folder
    is all `AutoModelFor...` and `AutoTokenizer` need.
    """
    from transformers import AutoTokenizer

    from maskbert.pretrained import resolve_model_path

    directory = Path(directory)
    merged = merge_masks(copy.deepcopy(model))
    if tokenizer is None:
        try:
            tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(model.config.name_or_path))
        except (OSError, ValueError):
            tokenizer = None
    tmp = directory.with_name(f".{directory.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        merged.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        _replace_dir(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory
