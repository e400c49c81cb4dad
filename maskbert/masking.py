"""Binary masks over frozen pretrained weights (paper §3.2-3.3).

Each masked linear layer keeps its pretrained weight and bias frozen and learns a real-valued score per
weight. The forward pass uses ``W * 1[scores >= tau]``; the backward pass hands the gradient of the binary
mask to the scores unchanged (straight-through estimator, Eq. 1-2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from maskbert.families import (
    CLASSIFIER_NAMES,
    POOLER_NAMES,
    block_layer_names,
    family_of,
    parse_blocks,
)
from maskbert.masking_config import MaskingConfig
from maskbert.modeling import model_record


class ThresholdBinarizer(torch.autograd.Function):
    """m_bin = 1[m >= tau] forward; identity gradient to m backward (Eq. 1-2)."""

    @staticmethod
    def forward(scores: torch.Tensor, threshold: float) -> torch.Tensor:
        return (scores >= threshold).to(scores.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        pass

    @staticmethod
    def backward(ctx, grad_mask: torch.Tensor):
        return grad_mask, None


class MaskedLinear(nn.Module):
    """A linear layer whose frozen weight is multiplied by a learned binary mask.

    The pretrained ``weight`` and ``bias`` are the original module's own parameters (``requires_grad``
    off), so state-dict names stay those of the unmasked model; ``scores`` is the only new parameter.
    """

    def __init__(self, linear: nn.Linear, threshold: float):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = linear.weight
        self.bias = linear.bias
        self.weight.requires_grad_(False)
        if self.bias is not None:
            self.bias.requires_grad_(False)
        self.threshold = threshold
        self.scores = nn.Parameter(torch.empty_like(self.weight, device=self.weight.device))

    def init_scores(self, initial_sparsity: float, low: float, generator: torch.Generator) -> None:
        """Uniform scores on [low, high) with high chosen so that `initial_sparsity` falls below tau."""
        high = low + (self.threshold - low) / initial_sparsity
        values = torch.rand(self.scores.shape, generator=generator) * (high - low) + low
        with torch.no_grad():
            self.scores.copy_(values)

    def binary_mask(self) -> torch.Tensor:
        return ThresholdBinarizer.apply(self.scores, self.threshold)

    def set_binary_mask(self, mask: torch.Tensor) -> None:
        """Fix the scores so that binary_mask() returns `mask` (used when loading an artifact)."""
        with torch.no_grad():
            self.scores.copy_(mask.to(self.scores.dtype) + (self.threshold - 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.binary_mask(), self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, threshold={self.threshold}"


@dataclass
class MaskedModelInfo:
    """What mask_model did, kept in the model's record (``model.maskbert.masking``)."""

    config: MaskingConfig
    layer_names: list[str] = field(default_factory=list)


def masked_layer_names(model: nn.Module, config: MaskingConfig) -> list[str]:
    """Module names to mask, in a fixed order: blocks first (by index, then K,Q,V,AO,I,O), then W_P, W_T.

    Backbone layers come first so that, for one seed, every task starts from the same backbone masks
    whatever its classifier's shape (the paper's §6.2 mask comparison relies on this).
    """
    family = family_of(model.config)
    blocks = parse_blocks(config.masked_blocks, model.config.num_hidden_layers)
    names = block_layer_names(family, blocks, config.layer_types)
    modules = dict(model.named_modules())
    if config.mask_pooler:
        names += [n for n in POOLER_NAMES if isinstance(modules.get(n), nn.Linear)]
    if config.mask_classifier:
        names += [n for n in CLASSIFIER_NAMES if isinstance(modules.get(n), nn.Linear)][:1]
    missing = [n for n in names if not isinstance(modules.get(n), nn.Linear)]
    if missing:
        raise ValueError(f"{type(model).__name__} has no linear layer named {missing[0]}")
    return names


def mask_model(model: nn.Module, config: MaskingConfig | None = None) -> nn.Module:
    """Wrap a Hugging Face BERT/RoBERTa/DistilBERT model for masking, in place.

    Every parameter is frozen, the chosen linear layers become MaskedLinear with scores initialised from
    ``config.seed``, and the scores are the only trainable parameters. Embeddings, biases and LayerNorm
    stay untouched.
    """
    config = config or MaskingConfig()
    record = model_record(model)  # before any layer is wrapped: a user's own model gets its fingerprint here
    names = masked_layer_names(model, config)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    generator = torch.Generator().manual_seed(config.seed)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layer = MaskedLinear(getattr(parent, child), config.threshold)
        layer.init_scores(config.initial_sparsity, config.init_low, generator)
        setattr(parent, child, layer)
    record.masking = MaskedModelInfo(config=config, layer_names=names)
    return model


def masked_layers(model: nn.Module) -> dict[str, MaskedLinear]:
    return {name: m for name, m in model.named_modules() if isinstance(m, MaskedLinear)}


@torch.no_grad()
def binary_masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """Current binary mask of every masked layer, as bool tensors on the CPU."""
    return {name: (m.scores >= m.threshold).cpu() for name, m in masked_layers(model).items()}


@torch.no_grad()
def masking_report(model: nn.Module) -> dict:
    """Masked weight counts and the current sparsity (fraction of zeros) of every masked layer."""
    layers = []
    for name, mask in binary_masks(model).items():
        zeros = int((~mask).sum())
        layers.append(
            {
                "layer": name,
                "shape": list(mask.shape),
                "weights": mask.numel(),
                "zeros": zeros,
                "sparsity": zeros / mask.numel(),
            }
        )
    total = sum(row["weights"] for row in layers)
    zeros = sum(row["zeros"] for row in layers)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "masked_weights": total,
        "zeros": zeros,
        "sparsity": zeros / total if total else 0.0,
        "trainable_parameters": trainable,
        "layers": layers,
    }


def mask_changes(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> float:
    """Fraction of mask bits that differ between two binary_masks() snapshots."""
    flipped = sum(int((before[n] != after[n]).sum()) for n in before)
    total = sum(m.numel() for m in before.values())
    return flipped / total if total else 0.0
