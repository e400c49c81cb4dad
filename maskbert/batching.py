"""The order of one training epoch: random batches (the paper's), or batches grouped by length.

Both orders are pure functions of (seed, epoch, lengths), so a run resumed after epoch k draws the same
batches as an uninterrupted one. Grouping follows transformers' `group_by_length`: a seeded permutation
cut into megabatches, each sorted by length, then cut into batches; the batches are then shuffled with the
same generator so that an epoch does not sweep from long to short sentences. Batches pad to their own
longest row (`maskbert.data.collate`), so grouped batches carry far fewer pad tokens.
"""

from __future__ import annotations

import torch
from transformers.trainer_pt_utils import get_length_grouped_indices


def epoch_seed(seed: int, epoch: int) -> int:
    """The generator seed of one epoch's order (unchanged from the first release: old runs resume)."""
    return seed * 100_003 + epoch


def row_length(row: dict) -> int:
    """Wordpieces a row pads to: its input_ids, or its longest choice for multiple choice."""
    ids = row["input_ids"]
    return max(len(choice) for choice in ids) if ids and isinstance(ids[0], list) else len(ids)


def epoch_batches(
    lengths: list[int], batch_size: int, seed: int, epoch: int, group_by_length: bool = False
) -> list[list[int]]:
    """Indices of the training rows, batch by batch, for one epoch; every row exactly once."""
    generator = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    if not group_by_length:
        order = torch.randperm(len(lengths), generator=generator).tolist()
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    order = get_length_grouped_indices(lengths, batch_size, generator=generator)
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def padded_tokens(lengths: list[int], batches: list[list[int]]) -> int:
    """Positions the model computes over when each batch pads to its longest row."""
    return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)
