"""BitFit (Ben Zaken et al., 2022): every bias term and the task head train; every other weight is frozen.

"Every bias term" is every ``*.bias`` of the pretrained model the task model uses: attention, feed-forward,
pooler and LayerNorm biases (LayerNorm's scale stays frozen, as every other weight). The head (what
`load_task_model` initialised at random) trains whole. The artifact holds only what the task changes,
``bitfit.safetensors``: the biases and the head in fp32, with the base model's name and fingerprint and the
task in its metadata; its bytes on disk are the method's real per-task storage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from maskbert.methods.base import FP32_BYTES, Method, StorageItem
from maskbert.methods.stored import artifact_info, check_base, load_base

if TYPE_CHECKING:
    from torch import nn

BITFIT_FILE = "bitfit.safetensors"


def trains(name: str, head: list[str]) -> bool:
    """Whether BitFit trains the parameter `name` of a task model whose random head is `head`."""
    return name.endswith(".bias") or name in head


class BitFit(Method):
    name = "bitfit"

    def build(self, model_name: str, task, seed: int, options: Mapping | None = None) -> nn.Module:
        model = load_base(model_name, task, seed)
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(trains(name, model.maskbert_random_init))
        return model

    def save(self, model: nn.Module, artifact_dir: Path, record: dict) -> dict:
        from safetensors.torch import save_file

        info = {**artifact_info(self.name, model, record), "head": list(model.maskbert_random_init)}
        tensors = {
            name: parameter.detach().float().cpu().contiguous()
            for name, parameter in model.named_parameters()
            if trains(name, info["head"])
        }
        path = Path(artifact_dir) / BITFIT_FILE
        save_file(tensors, str(path), metadata={"maskbert": json.dumps(info)})
        return {"artifact_bytes": path.stat().st_size}

    def load(self, artifact_dir: Path, record: dict, device: str = "cpu") -> nn.Module:
        import torch

        from maskbert.artifact import ArtifactError

        path = Path(artifact_dir) / BITFIT_FILE
        info, tensors = read_bitfit(path)
        model = load_base(record["model"], info["task"], record["seed"])
        check_base(model.maskbert_base_fingerprint, info, str(path))
        parameters = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in tensors.items():
                if name not in parameters or parameters[name].shape != value.shape:
                    raise ArtifactError(
                        f"{path}: tensor '{name}' {list(value.shape)} is not a parameter of the base model's "
                        f"task model"
                        + (f" (shape {list(parameters[name].shape)})" if name in parameters else "")
                    )
                parameters[name].copy_(value)
        return model.to(device).eval()

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


def read_bitfit(path: str | Path) -> tuple[dict, dict]:
    """(metadata, tensors) of a BitFit artifact; ArtifactError naming the file when it cannot be read."""
    from safetensors import SafetensorError, safe_open

    from maskbert.artifact import ArtifactError

    try:
        with safe_open(str(path), framework="pt") as handle:
            info = json.loads(handle.metadata()["maskbert"])
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, KeyError, TypeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"{path}: not a readable BitFit artifact ({error})") from None
    return info, tensors
