"""The arithmetic of training steps: fp32 (the paper's), TF32 matmuls, or bf16 autocast.

Only the forward and backward passes of training steps change. Parameters, mask scores and Adam's state
stay fp32 (autocast casts copies of the operands of matmuls, never the parameters), and the masks'
threshold comparison runs on the fp32 scores (`maskbert.masking.ThresholdBinarizer`), so an artifact is
the same kind of object whatever the precision. Evaluation runs in fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

PRECISIONS = ("fp32", "tf32", "bf16")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision '{precision}': expected one of {', '.join(PRECISIONS)}")
    return precision


@contextlib.contextmanager
def matmul_precision(precision: str, device: str) -> Iterator[None]:
    """Around whole training steps (forward, backward, optimizer): tf32 lets CUDA matmuls and convolutions
    use TensorFloat-32 (a backward pass reads the flags when it runs, so it must be inside too); the
    previous setting is restored on exit. Nothing changes for fp32, bf16, or on a CPU."""
    import torch  # here, not at module level: the CLI reads PRECISIONS without loading torch

    check_precision(precision)
    if precision != "tf32" or torch.device(device).type != "cuda":
        yield
        return
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


@contextlib.contextmanager
def forward_precision(precision: str, device: str) -> Iterator[None]:
    """Around the forward pass only (the backward follows the dtypes it recorded): bf16 is
    `torch.autocast` with bfloat16 on the device's type ('cpu', 'cuda' or 'cuda:N')."""
    import torch

    check_precision(precision)
    if precision != "bf16":
        yield
        return
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
        yield
