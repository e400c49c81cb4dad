"""What a training method is to the rest of maskbert.

Training, evaluation, run directories, memory accounting, the command line and the workflow never ask which
method a run used: they call the run's `Method` object. A method says how to turn the pretrained model into
a trainable task model, which parameters the optimizer updates, what it stores per task (its artifact) and
how to rebuild the model from that artifact. Its options (LoRA's rank, masking's blocks) are a small
dataclass of its own; everywhere outside the method they travel as a plain JSON object, opaquely.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from maskbert.methods.options import OptionError, options_from_dict

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
    detail: str = ""  # what tells two items of one kind apart: a classifier's shape


class Method(abc.ABC):
    """One way of adapting a pretrained model to a task. Instances are registered in `maskbert.methods`."""

    name: ClassVar[str]
    # The method's options: a dataclass whose fields are JSON values; None for a method without options.
    options_class: ClassVar[type | None] = None

    def resolve_options(self, options: Mapping[str, Any] | None, model: str | None = None) -> dict:
        """The options with every default filled in, as the JSON object run.json records. With `model`,
        defaults that depend on the model are spelt out (masking's blocks), so that two spellings of one
        setting are one run. A ValueError names an unknown or invalid option."""
        if self.options_class is None:
            if options:
                raise OptionError(self.name, next(iter(options)), "is unknown; the method takes no options")
            return {}
        resolved = dataclasses.asdict(options_from_dict(self.options_class, dict(options or {}), self.name))
        return json.loads(json.dumps(resolved))  # tuples as lists: what run.json reads back

    def check_options(self, options: Mapping[str, Any], model: str) -> None:
        """Refuse, before any work starts, options that cannot work on `model` (e.g. target modules that
        match nothing). Resolved options; may load the model's config. Default: nothing to check."""

    def setting_name(self, options: Mapping[str, Any]) -> str:
        """A run's setting as a path component, from its resolved options: `full` for a method without
        options, else `opt-` and a short hash of the options (a method may spell a readable name instead)."""
        if not options:
            return "full"
        digest = hashlib.sha256(json.dumps(dict(options), sort_keys=True).encode()).hexdigest()[:10]
        return f"opt-{digest}"

    @abc.abstractmethod
    def build(self, model_name: str, task, seed: int, options: Mapping[str, Any] | None = None) -> nn.Module:
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
        """Rebuild the trained model from its artifact (run.json's `record` says model, task and options),
        in eval mode."""

    @abc.abstractmethod
    def task_storage(
        self, model: str, kind: str, head_outputs: int, options: Mapping[str, Any] | None = None
    ) -> list[StorageItem]:
        """What serving one task of `kind` stores (Table 8's accounting), from the model's config alone."""


def artifact_bytes(artifact_dir: Path) -> int:
    """Bytes of every file below an artifact directory."""
    return sum(f.stat().st_size for f in Path(artifact_dir).rglob("*") if f.is_file())
