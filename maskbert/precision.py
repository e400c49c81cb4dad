"""The arithmetic of training steps: fp32 (the paper's), TF32 matmuls, or bf16 autocast.

Only the forward and backward passes of a training step change. Parameters, mask scores and Adam's state
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
def step_precision(precision: str, device: str) -> Iterator[None]:
    """Run the enclosed training steps in `precision` on `device` ('cpu', 'cuda' or 'cuda:N').

    tf32 lets CUDA matmuls and convolutions use TensorFloat-32 (on a CPU it is fp32); the previous
    setting is restored on exit. bf16 is `torch.autocast` with bfloat16 on the device's type.
    """
    import torch  # here, not at module level: the CLI reads PRECISIONS without loading torch

    check_precision(precision)
    device_type = torch.device(device).type
    if precision == "bf16":
        with torch.autocast(device_type, dtype=torch.bfloat16):
            yield
    elif precision == "tf32" and device_type == "cuda":
        matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
    else:
        yield
