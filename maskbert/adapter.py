"""A masked model as a self-describing directory, the way adapters are shared: save, load, merge.

    save_masks(model, "my-mask", base_model="bert-base-uncased")   # maskbert.json + mask.safetensors
    model = load_masked("my-mask")                                   # base model from the recorded name
    save_merged(model, "plain-model")                                # W * M baked in: AutoModelFor... loads it

A mask directory is exactly what a masking run keeps in its ``artifact/`` folder: the masking method's
artifact, ``mask.safetensors`` (a maskbert.artifact file: masks, head, their checksums) and the artifact's
record ``maskbert.json`` (method, base model and fingerprint, task, options); only the masks' coding may
differ (a run keeps 1 bit per weight, save_masks codes them below that by default).

Saving writes only its own files, each atomically, and leaves every other file in the directory alone
(like transformers' and peft's save_pretrained). A directory holding another kind's files (a run, a
save_pretrained folder, a peft adapter, another method's artifact) or another model's (a mask for another
base model or task) is written into only with ``overwrite=True``; a path that is a file is never replaced
by a directory.
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

from maskbert.artifact import ArtifactError, artifact_masks, init_order, masking_config, read_artifact
from maskbert.coding import coded_size
from maskbert.masking import masked_layers
from maskbert.methods import ArtifactRecord, find_artifact, get_method, load_artifact
from maskbert.methods.base import ARTIFACT_RECORD
from maskbert.modeling import TaskRecord, model_record
from maskbert.rundir import MASK_FILE, RUN_JSON

KIND_OF_HEAD = {
    "ForTokenClassification": "tagging",
    "ForMultipleChoice": "multiple_choice",
    "ForSequenceClassification": "single",
}
# Files that say what wrote a directory: a run, a save_pretrained folder, a peft adapter.
FOREIGN_FILES = {
    RUN_JSON: "run directory",
    "config.json": "save_pretrained folder",
    "adapter_config.json": "peft adapter",
}


def task_of(model: nn.Module, task=None) -> TaskRecord:
    """The task a model serves: `task` (a TaskSpec, TaskRecord or dict), else the one its record holds
    (load_task_model's, load_masked's), else what its own head says."""
    if task is None:
        task = model_record(model).task
    if task is not None:
        return TaskRecord.of(task)
    kind = next((k for suffix, k in KIND_OF_HEAD.items() if type(model).__name__.endswith(suffix)), None)
    if kind is None:
        raise ValueError(
            f"{type(model).__name__}: cannot tell the task kind; pass task={{'name', 'kind', 'label_names'}}"
        )
    labels = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    return TaskRecord("task", kind, tuple(labels))


def _check_target(directory: Path, own_kind: str, same_model, overwrite: bool, foreign: dict) -> None:
    """Refuse a file in place of the directory, and (unless `overwrite`) a directory holding another kind's
    files (`foreign`: file name -> kind) or, by `same_model(directory)`, another model's."""
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(f"{directory}: is a file; expected a directory to save the {own_kind} into")
    if overwrite or not directory.is_dir():
        return
    found = [name for name in foreign if (directory / name).exists()]
    if found:
        raise FileExistsError(
            f"{directory}: holds {', '.join(found)} of a {foreign[found[0]]}; pass overwrite=True "
            f"(--overwrite) to write the {own_kind}'s files beside them, or choose another directory"
        )
    other = same_model(directory)
    if other:
        raise FileExistsError(
            f"{directory}: holds the {own_kind} of another model ({other}); pass overwrite=True "
            "(--overwrite) to replace those files, or choose another directory"
        )


def _other_mask(directory: Path, record: ArtifactRecord) -> str | None:
    """What differs between the artifact already in `directory` and `record` (None: none there, or the same
    model)."""
    if not any((directory / name).exists() for name in (ARTIFACT_RECORD, MASK_FILE)):
        return None
    try:
        saved = ArtifactRecord.read(directory)
    except ArtifactError:
        return f"{MASK_FILE} without a readable {ARTIFACT_RECORD}"
    if saved.method != record.method:
        return f"an artifact of method '{saved.method}'"
    for key in ("base_fingerprint", "task"):
        if getattr(saved, key) != getattr(record, key):
            value = getattr(saved, key)
            return f"{key} {json.dumps(value.to_dict() if key == 'task' else value)}"
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
    """Write a masked model's artifact (the masking method's, as a run keeps it) into `directory`.

    `base_model` is the name or path the model was built from (default: the one transformers recorded);
    `task` the task it serves (default: see task_of); `coding` "flips" stores the masks below one bit per
    weight (maskbert.coding), "bits" one bit each. Other files in the directory stay (module doc).
    """
    recorded = model_record(model)
    if recorded.masking is None:
        raise ValueError(f"{type(model).__name__} is not masked: build it with maskbert.masking.mask_model")
    directory = Path(directory)
    config = recorded.masking.config.to_dict()
    record = ArtifactRecord(
        "masking",
        base_model or model.config.name_or_path,
        recorded.base_fingerprint,
        task_of(model, task),
        {k: v for k, v in config.items() if k != "seed"},
        config["seed"],
    )
    _check_target(directory, "mask directory", lambda d: _other_mask(d, record), overwrite, FOREIGN_FILES)
    directory.mkdir(parents=True, exist_ok=True)
    get_method("masking").write_artifact(model, directory, record, coding=coding)
    return directory


def mask_file(path: str | Path) -> Path:
    """The mask file of a masking artifact: a mask directory, a masking run or its artifact/ folder, or
    the file itself."""
    path = Path(path)
    if path.is_file() and path.name == MASK_FILE:
        return path
    folder, record = find_artifact(path)
    if record.method != "masking":
        raise ArtifactError(f"{folder}: an artifact of method '{record.method}', not a mask")
    return folder / MASK_FILE


def load_masked(path: str | Path, base_model: str | None = None, device: str = "cpu") -> nn.Module:
    """The masked model saved at `path` (a mask directory, a masking run or its artifact/ folder), on the
    recorded base model or on `base_model`. The task it was trained for is in its record
    (``model.maskbert.task``)."""
    folder, record = find_artifact(path)
    if record.method != "masking":
        raise ArtifactError(
            f"{folder}: an artifact of method '{record.method}', not a mask; load it with "
            "maskbert.methods.load_artifact"
        )
    return load_artifact(folder, device=device, base_model=base_model)


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
    if hasattr(model, "maskbert"):
        del model.maskbert  # nothing maskbert-specific is left on the model
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
    foreign = {ARTIFACT_RECORD: "maskbert artifact", MASK_FILE: "mask directory", **FOREIGN_FILES}
    del foreign["config.json"]
    _check_target(directory, "save_pretrained folder", lambda d: _other_model(d, merged), overwrite, foreign)
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
