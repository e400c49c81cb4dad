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

import pandas as pd

from maskbert.methods import StorageItem, get_method
from maskbert.methods.base import BIT_BYTES, FP32_BYTES
from maskbert.sizes import model_sizes

__all__ = ["accumulated_memory", "ensemble_memory_mb", "kb", "memory_table", "model_sizes", "task_storage"]


def kb(params: float, bytes_per_param: float) -> float:
    return round(params * bytes_per_param / 1000, 3)


def task_storage(
    model: str,
    method: str,
    head_outputs: int,
    kind: str = "single",
    options: Mapping | None = None,
    mask_bits_per_weight: float | None = None,
) -> list[StorageItem]:
    """What `method` (with its `options`) stores to serve one task of `kind` with `head_outputs` outputs.

    `mask_bits_per_weight` prices every per-task 1-bit mask at that rate instead: masks entropy-coded
    against their initial masks (maskbert.coding), at a rate measured on trained runs.
    """
    items = get_method(method).task_storage(model, kind, head_outputs, options)
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
            key = {"base": (item.what,), "head": (item.what, item.detail, seed)}.get(item.shared)
            if key is not None and key in seen:
                continue
            if key is not None:
                seen.add(key)
            params += item.params
            kbytes += kb(item.params, item.bytes_per_param)
        totals.append((params, kbytes))
    return totals


def _note(item: StorageItem) -> str:
    return {FP32_BYTES: "fp32", BIT_BYTES: "1 bit each"}.get(
        item.bytes_per_param, f"{8 * item.bytes_per_param:g} bits each"
    )


def memory_table(
    model: str = "bert-base-uncased",
    task_num_labels: dict[str, int] | None = None,
    options: Mapping | None = None,
    task_kinds: Mapping[str, str] | None = None,
    method: str = "masking",
) -> pd.DataFrame:
    """Table 8: what `method` stores, item by item: the shared base once, then each task's own items. The
    options are resolved and checked as `maskbert train` does, so no setting training refuses is priced."""
    chosen = get_method(method)
    options = chosen.resolve_options(options, model)
    chosen.check_options(options, model)
    rows, shared_done = [], set()
    for task, outputs in (task_num_labels or {"binary": 2}).items():
        for item in task_storage(model, method, outputs, (task_kinds or {}).get(task, "single"), options):
            if item.shared == "base":
                if item.what in shared_done:
                    continue
                shared_done.add(item.what)
                label = f"{item.what} {model}"
            else:
                label = " ".join(part for part in (item.what, task, item.detail) if part)
            rows.append(
                {
                    "item": label,
                    "params": item.params,
                    "memory_kb": kb(item.params, item.bytes_per_param),
                    "note": _note(item),
                }
            )
    return pd.DataFrame(rows)


def accumulated_memory(
    model: str,
    task_num_labels: dict[str, int],
    method_options: Mapping[str, Mapping] | None = None,
    task_kinds: Mapping[str, str] | None = None,
    methods: tuple[str, ...] = ("finetuning", "masking"),
    coded_bits_per_weight: float | None = None,
) -> pd.DataFrame:
    """Figure 3: parameters and MB needed to serve the first n tasks, per method.

    `task_num_labels` maps each task to its classifier's outputs (TaskSpec.head_outputs), `task_kinds`
    to its kind (default "single"), `method_options` each method to its options. Columns
    `{method}_params` and `{method}_mb` per method, and with `coded_bits_per_weight` also
    `masking_coded_mb`: masking with its masks coded at that rate.
    """
    kinds, options = task_kinds or {}, method_options or {}
    rows = [{"n_tasks": n, "task": task} for n, task in enumerate(task_num_labels, start=1)]
    columns = [(method, method, None) for method in methods]
    if coded_bits_per_weight is not None:
        columns.append(("masking_coded", "masking", coded_bits_per_weight))
    for column, method, bits in columns:
        tasks = [
            (task_storage(model, method, outputs, kinds.get(task, "single"), options.get(method), bits), 0)
            for task, outputs in task_num_labels.items()
        ]
        for row, (params, kbytes) in zip(rows, running_totals(tasks)):
            if bits is None:
                row[f"{column}_params"] = int(params)
            row[f"{column}_mb"] = kbytes / 1000
    return pd.DataFrame(rows)


def ensemble_memory_mb(
    model: str,
    num_labels: int,
    members: int,
    method: str,
    options: Mapping | None = None,
    kind: str = "single",
    mask_bits_per_weight: float | None = None,
) -> float:
    """Table 2's memory column: one model (members=1) or an ensemble of `members` seed runs.

    Each member is a run with its own seed, so what a method shares across tasks of one seed (masking's
    fp32 classifier) is stored per member; the pretrained model is stored once.
    """
    items = task_storage(model, method, num_labels, kind, options, mask_bits_per_weight)
    return running_totals([(items, seed) for seed in range(members)])[-1][1] / 1000
