"""Names of the maskable linear layers in each supported model family.

The paper masks, per transformer block, W_K, W_Q, W_V, W_AO, W_I and W_O, plus the pooler W_P and the
task classifier W_T. Hugging Face names these differently per family and per task head, so this module is
the one place that knows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LAYER_TYPES = ("K", "Q", "V", "AO", "I", "O")


@dataclass(frozen=True)
class Family:
    name: str
    block_format: str  # module path of a block, with {} for its index
    block_layers: dict[str, str]  # paper name -> module path inside a block


_BERT_LIKE_LAYERS = {
    "K": "attention.self.key",
    "Q": "attention.self.query",
    "V": "attention.self.value",
    "AO": "attention.output.dense",
    "I": "intermediate.dense",
    "O": "output.dense",
}

FAMILIES = {
    "bert": Family("bert", "bert.encoder.layer.{}.", _BERT_LIKE_LAYERS),
    "roberta": Family("roberta", "roberta.encoder.layer.{}.", _BERT_LIKE_LAYERS),
    "distilbert": Family(
        "distilbert",
        "distilbert.transformer.layer.{}.",
        {
            "K": "attention.k_lin",
            "Q": "attention.q_lin",
            "V": "attention.v_lin",
            "AO": "attention.out_lin",
            "I": "ffn.lin1",
            "O": "ffn.lin2",
        },
    ),
}

# Head layers outside the blocks. W_P: BERT's pretrained pooler, or the dense layer that RoBERTa's and
# DistilBERT's Hugging Face heads put in the pooler's place. W_T: the task classifier.
POOLER_NAMES = ("bert.pooler.dense", "roberta.pooler.dense", "classifier.dense", "pre_classifier")
CLASSIFIER_NAMES = ("classifier.out_proj", "classifier")


def family_of(config) -> Family:
    """The family of a transformers config; any other architecture is refused by name."""
    model_type = getattr(config, "model_type", None)
    if model_type not in FAMILIES:
        raise ValueError(
            f"unsupported model family '{model_type}': maskbert masks {', '.join(sorted(FAMILIES))} models"
        )
    return FAMILIES[model_type]


def default_masked_blocks(num_blocks: int) -> tuple[int, ...]:
    """Blocks 2 to the last, as in §5.3 (2-11 for BERT/RoBERTa, 2-5 for DistilBERT)."""
    return tuple(range(min(2, num_blocks - 1), num_blocks))


def parse_blocks(spec: str | tuple[int, ...] | list[int] | None, num_blocks: int) -> tuple[int, ...]:
    """Parse '2-11', '0,1,5', '8-11,0' or a sequence into sorted block indices, checked against the model."""
    if spec is None:
        return default_masked_blocks(num_blocks)
    if isinstance(spec, str):
        if spec.strip().lower() == "none":
            return ()
        blocks: set[int] = set()
        for part in spec.split(","):
            match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
            if not match:
                raise ValueError(f"masked blocks '{spec}': expected ranges like '2-11' or lists like '0,3,5'")
            low, high = int(match[1]), int(match[2] or match[1])
            if low > high:
                raise ValueError(f"masked blocks '{spec}': range {low}-{high} is empty")
            blocks.update(range(low, high + 1))
    else:
        blocks = {int(b) for b in spec}
    outside = sorted(b for b in blocks if not 0 <= b < num_blocks)
    if outside:
        raise ValueError(f"masked blocks {outside} do not exist: the model has blocks 0-{num_blocks - 1}")
    return tuple(sorted(blocks))


def format_blocks(blocks: tuple[int, ...]) -> str:
    """Inverse of parse_blocks for contiguous runs: (2,3,4,5) -> '2-5'."""
    runs, start = [], None
    for i, b in enumerate(blocks):
        if start is None:
            start = b
        if i + 1 == len(blocks) or blocks[i + 1] != b + 1:
            runs.append(f"{start}-{b}" if b != start else f"{b}")
            start = None
    return ",".join(runs) if runs else "none"


def block_layer_names(family: Family, blocks: tuple[int, ...], layer_types=LAYER_TYPES) -> list[str]:
    """Full module names of the chosen layer types in the chosen blocks, in a fixed order."""
    unknown = [t for t in layer_types if t not in LAYER_TYPES]
    if unknown:
        raise ValueError(f"unknown layer types {unknown}: expected some of {list(LAYER_TYPES)}")
    return [family.block_format.format(b) + family.block_layers[t] for b in blocks for t in layer_types]


def max_positions(config) -> int:
    """Wordpieces a model of this config takes per sequence: its position embeddings, less RoBERTa's
    offset (its positions start after the padding index, so 514 embeddings hold 512 wordpieces)."""
    positions = getattr(config, "max_position_embeddings", None)
    if positions is None:
        raise ValueError(
            f"model type '{getattr(config, 'model_type', None)}' records no max_position_embeddings"
        )
    if getattr(config, "model_type", None) == "roberta":
        positions -= (config.pad_token_id or 0) + 1
    return positions


def check_max_length(max_length: int, config, model: str) -> None:
    """Refuse a max length the model has no positions for, before any work starts."""
    limit = max_positions(config)
    if limit is not None and not 1 <= max_length <= limit:
        raise ValueError(
            f"max length {max_length}: model '{model}' takes 1 to {limit} wordpieces per example "
            f"(its {config.max_position_embeddings} positions); expected --max-length {limit} or less"
        )
