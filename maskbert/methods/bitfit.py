"""BitFit (Ben Zaken et al., 2022): every bias term and the task head train; every other weight is frozen.

"Every bias term" is every ``*.bias`` of the pretrained model the task model uses: attention, feed-forward,
pooler and LayerNorm biases (LayerNorm's scale stays frozen, as every other weight). The head (what
`load_task_model` initialised at random) trains whole. Its artifact is the `Method` default: the trained
tensors (biases and head, fp32) in ``bitfit.safetensors`` beside the artifact's ``maskbert.json``; its
bytes on disk are the method's real per-task storage. Served, the biases are swapped into the shared
backbone's bias terms in place (the default `ParameterDelta`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from maskbert.methods.base import FP32_BYTES, Method, StorageItem

if TYPE_CHECKING:
    from torch import nn


def trains(name: str, head: list[str]) -> bool:
    """Whether BitFit trains the parameter `name` of a task model whose random head is `head`."""
    return name.endswith(".bias") or name in head


class BitFit(Method):
    name = "bitfit"

    def build(self, model_name: str, task, seed: int, options: Mapping | None = None) -> nn.Module:
        from maskbert.modeling import load_task_model

        model = load_task_model(model_name, task, seed)
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(trains(name, model.maskbert.random_init))
        return model

    def task_storage(
        self, model: str, kind: str, head_outputs: int, options: Mapping | None = None
    ) -> list[StorageItem]:
        """The pretrained model once; per task every bias and the whole head (weights and biases), fp32."""
        from maskbert.sizes import model_sizes, task_parameters

        counts = task_parameters(model, kind, head_outputs)
        sizes = model_sizes(model, kind=kind)
        return [
            StorageItem("pretrained", sizes["pretrained_params"], FP32_BYTES, shared="base"),
            StorageItem("biases", counts["bias_params"], FP32_BYTES),
            StorageItem(
                "head", counts["head_params"], FP32_BYTES, detail=f"{sizes['hidden_size']}x{head_outputs}"
            ),
        ]
