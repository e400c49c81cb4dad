"""Parameter counts and memory of the training methods (paper §5.3, Table 8, Figure 3, Table 2).

Everything is computed from a model config on the meta device, so no weights are needed: the three
paper models' config.json files ship with the package. What a method stores per task comes from the
method itself (`Method.task_storage`). Conventions are the paper's: fp32 weights take 4 bytes, mask bits
1/8 byte, 1 KB = 1,000 bytes, 1 MB = 1,000 KB; a task classifier counts its weight matrix (hidden x
outputs) only, biases are left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from functools import lru_cache

import pandas as pd
import torch
from transformers import AutoConfig, AutoModel

from maskbert.families import LAYER_TYPES, family_of
from maskbert.masking import MaskingConfig, masked_layer_names
from maskbert.methods import StorageItem, get_method
from maskbert.methods.base import BIT_BYTES, FP32_BYTES
from maskbert.modeling import HEAD_CLASSES
from maskbert.pretrained import resolve_model_path, shipped_config_path

# Backbone parameters the released checkpoints do not hold: RoBERTa's are published without the pooler
# (transformers reports roberta.pooler.* as newly initialised), so where a head uses it, it is random.
NOT_IN_CHECKPOINT = {"roberta": ("pooler.",)}


def load_config(model: str):
    """A shipped config for the paper models (works offline), else the model's own."""
    shipped = shipped_config_path(model)
    return AutoConfig.from_pretrained(str(shipped) if shipped else resolve_model_path(model))


def model_sizes(
    model: str, masked_blocks: str | None = None, layer_types=LAYER_TYPES, kind: str = "single"
) -> dict:
    """Pretrained parameter count, masked weight count (chosen blocks + W_P) and hidden size for a task kind.

    The masked layers are found as `mask_model` finds them, on the task kind's head built on the meta
    device. A W_P that is not pretrained (RoBERTa's and DistilBERT's sequence-classification dense layer,
    DistilBERT's multiple-choice pre_classifier, RoBERTa's unreleased pooler under its multiple-choice
    head) is masked like BERT's pooler and also counted as `head_dense_params`, because a mask artifact
    has to store its random fp32 weights. Tagging heads have no W_P.
    """
    return dict(_model_sizes(model, masked_blocks, tuple(layer_types), kind))


@lru_cache(maxsize=64)
def _model_sizes(model: str, masked_blocks: str | None, layer_types: tuple[str, ...], kind: str) -> dict:
    # cached: Figure 3 and Table 2 ask for the same sizes once per task and method
    if kind not in HEAD_CLASSES:
        raise ValueError(f"task kind '{kind}': expected one of {', '.join(HEAD_CLASSES)}")
    config = load_config(model)
    family = family_of(config)
    with torch.device("meta"):
        backbone = AutoModel.from_config(config)
        task_model = HEAD_CLASSES[kind].from_config(config)
    unreleased = NOT_IN_CHECKPOINT.get(family.name, ())
    pretrained = {
        f"{task_model.base_model_prefix}.{name}": p.numel()
        for name, p in backbone.named_parameters()
        if not name.startswith(unreleased)
    }
    names = masked_layer_names(
        task_model, MaskingConfig(masked_blocks=masked_blocks, layer_types=layer_types, mask_classifier=False)
    )
    modules = dict(task_model.named_modules())
    return {
        "pretrained_params": sum(pretrained.values()),
        "masked_weights": sum(modules[n].weight.numel() for n in names),
        "head_dense_params": sum(modules[n].weight.numel() for n in names if f"{n}.weight" not in pretrained),
        "hidden_size": config.hidden_size,
    }


def kb(params: float, bytes_per_param: float) -> float:
    return round(params * bytes_per_param / 1000, 3)


def task_storage(
    model: str,
    method: str,
    head_outputs: int,
    kind: str = "single",
    masked_blocks: str | None = None,
    mask_bits_per_weight: float | None = None,
) -> list[StorageItem]:
    """What `method` stores to serve one task of `kind` whose classifier has `head_outputs` outputs.

    `mask_bits_per_weight` prices every per-task 1-bit mask at that rate instead: masks entropy-coded
    against their initial masks (maskbert.coding), at a rate measured on trained runs.
    """
    items = get_method(method).task_storage(model_sizes(model, masked_blocks, kind=kind), head_outputs)
    if mask_bits_per_weight is None:
        return items
    return [
        dataclasses.replace(item, bytes_per_param=mask_bits_per_weight / 8)
        if item.shared is None and item.bytes_per_param == BIT_BYTES
        else item
        for item in items
    ]


def running_totals(tasks: Iterable[tuple[list[StorageItem], int]]) -> list[tuple[int, float]]:
    """(parameters, KB) stored after each of the given (storage items, seed) tasks, shared items once.

    "base" items are stored once; "head" items once per (item, seed): runs with another seed start
    from other random head weights and need their own.
    """
    seen: set[tuple] = set()
    params, kbytes, totals = 0, 0.0, []
    for items, seed in tasks:
        for item in items:
            key = {"base": (item.what,), "head": (item.what, seed)}.get(item.shared)
            if key is not None and key in seen:
                continue
            if key is not None:
                seen.add(key)
            params += item.params
            kbytes += kb(item.params, item.bytes_per_param)
        totals.append((params, kbytes))
    return totals


def memory_table(
    model: str = "bert-base-uncased",
    task_num_labels: dict[str, int] | None = None,
    masked_blocks: str | None = None,
    task_kinds: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Table 8's items for masking: the pretrained model, then per task its masks and classifier."""
    rows, pretrained_done = [], False
    for task, outputs in (task_num_labels or {"binary": 2}).items():
        sizes = model_sizes(model, masked_blocks, kind=(task_kinds or {}).get(task, "single"))
        if not pretrained_done:
            rows.append(
                {
                    "item": f"pretrained {model}",
                    "params": sizes["pretrained_params"],
                    "memory_kb": kb(sizes["pretrained_params"], FP32_BYTES),
                    "note": "fp32",
                }
            )
            pretrained_done = True
        shape = f"{sizes['hidden_size']}x{outputs}"
        classifier = sizes["hidden_size"] * outputs
        rows.append(
            {
                "item": f"masked weights {task}",
                "params": sizes["masked_weights"],
                "memory_kb": kb(sizes["masked_weights"], BIT_BYTES),
                "note": "1 bit each",
            }
        )
        if sizes["head_dense_params"]:
            rows.append(
                {
                    "item": f"head dense layer {task} (not pretrained)",
                    "params": sizes["head_dense_params"],
                    "memory_kb": kb(sizes["head_dense_params"], FP32_BYTES),
                    "note": "fp32",
                }
            )
        rows.append(
            {
                "item": f"classifier {task} {shape}",
                "params": classifier,
                "memory_kb": kb(classifier, FP32_BYTES),
                "note": "fp32",
            }
        )
        rows.append(
            {
                "item": f"classifier mask {task} {shape}",
                "params": classifier,
                "memory_kb": kb(classifier, BIT_BYTES),
                "note": "1 bit each",
            }
        )
    return pd.DataFrame(rows)


def accumulated_memory(
    model: str,
    task_num_labels: dict[str, int],
    masked_blocks: str | None = None,
    task_kinds: Mapping[str, str] | None = None,
    methods: tuple[str, ...] = ("finetuning", "masking"),
    coded_bits_per_weight: float | None = None,
) -> pd.DataFrame:
    """Figure 3: parameters and MB needed to serve the first n tasks, per method.

    `task_num_labels` maps each task to its classifier's outputs (TaskSpec.head_outputs), `task_kinds`
    to its kind (default "single"). Columns `{method}_params` and `{method}_mb` per method, and with
    `coded_bits_per_weight` also `masking_coded_mb`: masking with its masks coded at that rate.
    """
    kinds = task_kinds or {}
    rows = [{"n_tasks": n, "task": task} for n, task in enumerate(task_num_labels, start=1)]
    for method in methods:
        tasks = [
            (task_storage(model, method, outputs, kinds.get(task, "single"), masked_blocks), 0)
            for task, outputs in task_num_labels.items()
        ]
        for row, (params, kbytes) in zip(rows, running_totals(tasks)):
            row.update({f"{method}_params": int(params), f"{method}_mb": kbytes / 1000})
    if coded_bits_per_weight is not None:
        tasks = [
            (
                task_storage(
                    model, "masking", outputs, kinds.get(task, "single"), masked_blocks, coded_bits_per_weight
                ),
                0,
            )
            for task, outputs in task_num_labels.items()
        ]
        for row, (_, kbytes) in zip(rows, running_totals(tasks)):
            row["masking_coded_mb"] = kbytes / 1000
    return pd.DataFrame(rows)


def ensemble_memory_mb(
    model: str,
    num_labels: int,
    members: int,
    method: str,
    masked_blocks: str | None = None,
    kind: str = "single",
    mask_bits_per_weight: float | None = None,
) -> float:
    """Table 2's memory column: one model (members=1) or an ensemble of `members` seed runs.

    Each member is a run with its own seed, so what a method shares across tasks of one seed (masking's
    fp32 classifier) is stored per member; the pretrained model is stored once.
    """
    items = task_storage(model, method, num_labels, kind, masked_blocks, mask_bits_per_weight)
    return running_totals([(items, seed) for seed in range(members)])[-1][1] / 1000
