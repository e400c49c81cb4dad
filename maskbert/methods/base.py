"""What a training method is to the rest of maskbert.

Training, evaluation, run directories and memory accounting never ask which method a run used: they call
the run's `Method` object. A method says how to turn the pretrained model into a trainable task model,
which parameters the optimizer updates, what it stores per task (its artifact) and how to rebuild the
model from that artifact.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # the registry is imported where torch is not needed (the workflow's DAG build)
    from torch import nn

FP32_BYTES, BIT_BYTES = 4, 1 / 8


@dataclass(frozen=True)
class StorageItem:
    """One thing a method keeps to serve a task (the paper's §5.3 memory accounting).

    ``shared`` says what it is shared with: ``"base"`` - stored once whatever the task (the pretrained
    model); ``"head"`` - once per classifier shape and seed (the paper's masking keeps one fp32
    classifier per number of labels); ``None`` - stored for every task.
    """

    what: str
    params: int
    bytes_per_param: float
    shared: str | None = None


class Method(abc.ABC):
    """One way of adapting a pretrained model to a task. Subclasses are registered in `maskbert.methods`."""

    name: ClassVar[str]
    # TrainConfig fields this method reads; a run records the others as None.
    options: ClassVar[tuple[str, ...]] = ()

    def resolve_options(self, options: Mapping[str, Any]) -> dict:
        """This method's options, defaults filled in: what run.json records."""
        return {key: options.get(key) for key in self.options}

    @abc.abstractmethod
    def build(self, model_name: str, task, seed: int, options=None) -> nn.Module:
        """The task model ready to train; `seed` fixes every random initial value the method adds."""

    def trainable_parameters(self, model: nn.Module) -> dict[str, nn.Parameter]:
        """What the optimizer updates and a checkpoint keeps."""
        return {name: p for name, p in model.named_parameters() if p.requires_grad}

    def start_state(self, model: nn.Module):
        """Whatever `epoch_stats` compares against, taken from the freshly built model (default: nothing)."""

    def epoch_stats(self, model: nn.Module, start_state) -> dict:
        """Method-specific numbers logged per epoch (and the best epoch's copied to summary.json)."""
        return {}

    @abc.abstractmethod
    def save(self, model: nn.Module, artifact_dir: Path, record: dict) -> dict:
        """Write the model's artifact into the empty directory `artifact_dir`; return summary fields."""

    @abc.abstractmethod
    def load(self, artifact_dir: Path, record: dict, device: str = "cpu") -> nn.Module:
        """Rebuild the trained model from its artifact (run.json's `record` says model and task), in eval mode."""

    @abc.abstractmethod
    def task_storage(self, sizes: Mapping[str, int], head_outputs: int) -> list[StorageItem]:
        """What serving one task stores, from `maskbert.memory.model_sizes` of its task kind."""


def artifact_bytes(artifact_dir: Path) -> int:
    """Bytes of every file below an artifact directory."""
    return sum(f.stat().st_size for f in Path(artifact_dir).rglob("*") if f.is_file())
