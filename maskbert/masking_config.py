"""Masking's options (what is masked and how masks start), apart from the torch code in `maskbert.masking`.

The method registry, the workflow's DAG build and the artifact readers need these options without
importing torch, so they live here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from maskbert.families import LAYER_TYPES, format_blocks


@dataclass
class MaskingConfig:
    """Which weights get a mask, and how masks start.

    ``masked_blocks`` takes '2-11', a list of indices, or None for the paper's default (block 2 to the
    last). ``threshold`` (tau) and ``init_low`` fix the uniform initialisation U(init_low, high), with
    ``high`` solved from ``initial_sparsity``; their defaults are those of the authors' code.
    """

    masked_blocks: str | None = None
    layer_types: tuple[str, ...] = LAYER_TYPES
    mask_pooler: bool = True
    mask_classifier: bool = True
    initial_sparsity: float = 0.05
    threshold: float = 1e-2
    init_low: float = -2e-2
    seed: int = 0

    def __post_init__(self):
        if not 0.0 < self.initial_sparsity < 1.0:
            raise ValueError(f"initial_sparsity={self.initial_sparsity}: expected a fraction in (0, 1)")
        if self.init_low >= self.threshold:
            raise ValueError(f"init_low={self.init_low}: must lie below threshold {self.threshold}")
        self.layer_types = tuple(self.layer_types)
        unknown = [layer for layer in self.layer_types if layer not in LAYER_TYPES]
        if unknown or not self.layer_types:
            raise ValueError(
                f"layer_types={json.dumps(list(self.layer_types))}: expected some of {', '.join(LAYER_TYPES)}"
            )
        if isinstance(self.masked_blocks, (list, tuple)):
            self.masked_blocks = format_blocks(tuple(sorted(int(b) for b in self.masked_blocks)))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> MaskingConfig:
        """Inverse of to_dict; an unknown key is refused by name (a typo must not fall back to a default)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"masking config: unknown key '{unknown[0]}'; expected some of {', '.join(sorted(known))}"
            )
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> MaskingConfig:
        return cls.from_dict(json.loads(text))
