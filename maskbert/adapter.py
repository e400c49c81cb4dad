"""A masked model as a self-describing directory, the way adapters are shared: save, load, merge.

    save_masks(model, "my-mask", base_model="bert-base-uncased")   # masking_config.json + mask.safetensors
    model = load_masked("my-mask")                                   # base model from the recorded name
    save_merged(model, "plain-model")                                # W * M baked in: AutoModelFor... loads it

``masking_config.json`` holds what a reader needs without the task registry: the masking config, the
base model's name and fingerprint, the task's name, kind and label names, the mask file and how its masks
are coded. The tensors and their checksums live in the mask file, a maskbert.artifact file.

Saving writes only its own files, each atomically, and leaves every other file in the directory alone
(like transformers' and peft's save_pretrained). A directory holding another kind's files (a run, a
save_pretrained folder, a peft adapter) or another model's (a mask for another base model or task) is
written into only with ``overwrite=True``; a path that is a file is never replaced by a directory.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
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
from maskbert.rundir import MASK_FILE, RUN_JSON, write_json_atomic

CONFIG_NAME = "masking_config.json"
FORMAT_VERSION = 1
KIND_OF_HEAD = {
    "ForTokenClassification": "tagging",
    "ForMultipleChoice": "multiple_choice",
    "ForSequenceClassification": "single",
}
# Files that say what wrote a directory: a mask directory, a run, a save_pretrained folder, a peft adapter.
KIND_FILES = {
    CONFIG_NAME: "mask directory",
    MASK_FILE: "mask directory",
    RUN_JSON: "run directory",
    "config.json": "save_pretrained folder",
    "adapter_config.json": "peft adapter",
}


def _task_record(model: nn.Module, task) -> dict:
    """{name, kind, label_names} from a TaskSpec-like object, a dict, or (None) the task load_masked
    recorded on the model, else the model's own head."""
    if task is None:
        task = getattr(model, "maskbert_task", None)
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


def _check_target(directory: Path, own_kind: str, same_model, overwrite: bool) -> None:
    """Refuse a file in place of the directory, and (unless `overwrite`) a directory holding another kind's
    files or, by `same_model(directory)`, another model's."""
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(f"{directory}: is a file; expected a directory to save the {own_kind} into")
    if overwrite or not directory.is_dir():
        return
    foreign = [name for name, kind in KIND_FILES.items() if kind != own_kind and (directory / name).exists()]
    if foreign:
        raise FileExistsError(
            f"{directory}: holds {', '.join(foreign)} of a {KIND_FILES[foreign[0]]}; pass overwrite=True "
            f"(--overwrite) to write the {own_kind}'s files beside them, or choose another directory"
        )
    other = same_model(directory)
    if other:
        raise FileExistsError(
            f"{directory}: holds the {own_kind} of another model ({other}); pass overwrite=True "
            "(--overwrite) to replace those files, or choose another directory"
        )


def _other_mask(directory: Path, config: dict):
    """What differs between the mask directory's saved model and `config` (None when the same model)."""
    if not any((directory / name).exists() for name in (CONFIG_NAME, MASK_FILE)):
        return None
    try:
        saved = json.loads((directory / CONFIG_NAME).read_text())
    except (OSError, ValueError):
        return f"{MASK_FILE} without a readable {CONFIG_NAME}"
    for key in ("base_fingerprint", "task"):
        if saved.get(key) != config[key]:
            return f"{key} {json.dumps(saved.get(key))}"
    return None


def save_masks(
    model: nn.Module,
    directory: str | Path,
    *,
    base_model: str | None = None,
    task=None,
    coding: str = "flips",
    overwrite: bool = False,
) -> Path:
    """Write a masked model's masks and head as a directory that load_masked() reads back on its own.

    `base_model` is the name or path the model was built from (default: the one transformers recorded);
    `coding` "flips" stores the masks below one bit per weight (maskbert.coding), "bits" one bit each.
    Writes mask.safetensors, then masking_config.json, each atomically; other files stay (module doc).
    """
    if not hasattr(model, "maskbert_masking"):
        raise ValueError(f"{type(model).__name__} is not masked: build it with maskbert.masking.mask_model")
    directory = Path(directory)
    base_model = base_model or model.config.name_or_path
    config = {
        "format_version": FORMAT_VERSION,
        "masking": model.maskbert_masking.config.to_dict(),
        "base_model": base_model,
        "base_fingerprint": base_fingerprint(model),
        "model_type": model.config.model_type,
        "task": _task_record(model, task),
        "mask_file": MASK_FILE,
        "mask_coding": coding,
    }
    _check_target(directory, "mask directory", lambda d: _other_mask(d, config), overwrite)
    save_artifact(model, directory / MASK_FILE, base_model=base_model, task=config["task"], coding=coding)
    write_json_atomic(directory / CONFIG_NAME, config)
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


def save_merged(model: nn.Module, directory: str | Path, tokenizer=None, overwrite: bool = False) -> Path:
    """Write a merged copy of a masked model as a save_pretrained folder (the model itself stays masked).

    The tokenizer (given, or the base model's when it can be loaded) is saved beside it, so the folder
    is all `AutoModelFor...` and `AutoTokenizer` need. Each file is moved in atomically; other files stay,
    and another kind's or another model's folder needs `overwrite` (module doc).
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
    _check_target(directory, "save_pretrained folder", lambda d: _other_model(d, merged), overwrite)
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".maskbert-save-", dir=directory))
    try:
        merged.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        for file in sorted(tmp.iterdir()):
            os.replace(file, directory / file.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not any(directory.iterdir()):
            directory.rmdir()  # a failed save leaves no empty folder behind
    return directory


def _other_model(directory: Path, model: nn.Module) -> str | None:
    """What differs between the save_pretrained folder's model (config.json) and `model`, else None."""
    if not (directory / "config.json").exists():
        return None
    try:
        saved = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError):
        return "an unreadable config.json"
    config = model.config
    for key, value in (("model_type", config.model_type), ("architectures", [type(model).__name__])):
        if saved.get(key) != value:
            return f"{key} {json.dumps(saved.get(key))}"
    if saved.get("id2label") != {str(i): name for i, name in config.id2label.items()}:
        return f"labels {json.dumps(saved.get('id2label'))}"
    return None
