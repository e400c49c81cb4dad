"""Figure 5 (§6.2): how dissimilar are the masks trained on two tasks, or with two seeds?

    s = ‖M1 − M2‖₁ / (‖M1 − M1_init‖₁ + ‖M2 − M2_init‖₁)

per masked layer: the bits on which two trained masks differ, as a fraction of all bits training changed.
0 means identical masks; 1 means the two trainings changed disjoint bits (from a shared start); with two
different starts (two seeds) the masks also differ where the starts did, and s can exceed 1. For one
seed every task starts from the same backbone masks, because ``masked_layer_names`` orders the blocks
before the head; the initial masks are regenerated from the seed and masking config the artifact records.
Masks stay bit-packed (as the artifact stores them): differences are popcounts of XORs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from maskbert.artifact import artifact_masks, pack_mask, read_artifact
from maskbert.data import get_task
from maskbert.families import FAMILIES
from maskbert.masking import MaskingConfig, binary_masks
from maskbert.methods import build_model


def bits_differing(a: np.ndarray, b: np.ndarray) -> int:
    """Number of differing bits between two bit-packed masks of one layer."""
    return int(np.bitwise_count(np.bitwise_xor(a, b)).sum())


def dissimilarity(
    trained1: np.ndarray, trained2: np.ndarray, initial1: np.ndarray, initial2: np.ndarray
) -> float:
    """s for one layer (bit-packed masks); NaN when neither training changed a bit."""
    changed = bits_differing(trained1, initial1) + bits_differing(trained2, initial2)
    return bits_differing(trained1, trained2) / changed if changed else float("nan")


def trained_masks(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """An artifact's metadata and its bit-packed masks by layer name, read through the library's one loader
    (``artifact_masks``), so 1-bit and coded artifacts alike."""
    metadata, tensors = read_artifact(path)
    masks = artifact_masks(metadata, tensors, str(path))
    return metadata, {name: pack_mask(mask).numpy() for name, mask in masks.items()}


def initial_masks(metadata: dict) -> dict[str, np.ndarray]:
    """The masks a run started from, rebuilt as training built them (same model, task head, seed, config)."""
    recorded = metadata["masking"]
    masking = MaskingConfig(
        **{k: v for k, v in recorded.items() if k != "layer_types"},
        layer_types=tuple(recorded["layer_types"]),
    )
    model = build_model(
        metadata["base_model"], get_task(metadata["task"]["name"]), "masking", masking.seed, masking
    )
    return {name: pack_mask(mask).numpy() for name, mask in binary_masks(model).items()}


def block_layer(name: str, model_type: str) -> tuple[int, str] | None:
    """(block, paper layer type) of a masked layer's module name; None outside the blocks (W_P, W_T)."""
    family = FAMILIES[model_type]
    prefix = re.escape(family.block_format.split("{}")[0])
    match = re.fullmatch(prefix + r"(\d+)\.(.+)", name)
    if not match:
        return None
    types = {path: kind for kind, path in family.block_layers.items()}
    return (int(match[1]), types[match[2]]) if match[2] in types else None


def mask_dissimilarities(artifacts: Mapping[tuple[str, int], str | Path]) -> pd.DataFrame:
    """s per block layer for every pair of tasks with one seed and every pair of seeds of one task.

    `artifacts` maps (task, seed) to a mask.safetensors of one base model. Rows: comparison ("tasks" or
    "seeds"), task1, task2, seed1, seed2, block, layer_type, s.
    """
    masks, starts, model_type, base = {}, {}, None, None
    for (task, seed), path in artifacts.items():
        metadata, masks[task, seed] = trained_masks(path)
        if base is not None and (metadata["base_model"], metadata["model_type"]) != (base, model_type):
            raise ValueError(f"{path}: base model {metadata['base_model']}, but other masks are over {base}")
        base, model_type = metadata["base_model"], metadata["model_type"]
        if int(metadata["masking"]["seed"]) != seed:
            raise ValueError(
                f"{path}: masks trained with seed {metadata['masking']['seed']}, listed as seed {seed}"
            )
        if seed not in starts:
            starts[seed] = initial_masks(metadata)
    positions = {name: block_layer(name, model_type) for key in masks for name in masks[key]}
    rows = []

    def compare(kind, first, second):
        shared = [n for n in masks[first] if n in masks[second] and positions[n] is not None]
        for name in shared:
            s = dissimilarity(
                masks[first][name], masks[second][name], starts[first[1]][name], starts[second[1]][name]
            )
            block, layer_type = positions[name]
            rows.append(
                {
                    "comparison": kind,
                    "task1": first[0],
                    "task2": second[0],
                    "seed1": first[1],
                    "seed2": second[1],
                    "block": block,
                    "layer_type": layer_type,
                    "s": s,
                }
            )

    keys = sorted(masks)
    for first, second in combinations(keys, 2):
        if first[1] == second[1]:
            compare("tasks", first, second)
        elif first[0] == second[0]:
            compare("seeds", first, second)
    if not rows:
        raise ValueError(
            "Figure 5: no two masks to compare (need two tasks with one seed, or two seeds of a task)"
        )
    return pd.DataFrame(rows)
