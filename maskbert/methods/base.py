"""What a training method is to the rest of maskbert.

Training, evaluation, run directories, memory accounting, serving, the command line and the workflow never
ask which method a run used: they call the run's `Method` object. A method says how to turn the pretrained
model into a trainable task model, which parameters the optimizer updates, and owns its artifact end to
end: what it stores per task, how the model comes back from it on a base, and how it goes onto and off a
backbone shared by many tasks (`served_task`). Its options (LoRA's rank, masking's blocks) are a small
dataclass of its own; everywhere outside the method they travel as a plain JSON object, opaquely.

Every artifact describes itself in ``maskbert.json`` (`ArtifactRecord`: the method, the base model and its
fingerprint, the task, the options and seed), written beside the method's own files, so that loading and
serving read which method made it instead of guessing. By default a method stores its trainable
parameters (``<method>.safetensors``, as peft's tuners save theirs by prefix), loads them onto a freshly
built model, and is served by swapping them into the shared backbone in place: a method that trains a
subset of the task model's parameters (BitFit) needs no artifact code of its own.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from maskbert.methods.options import OptionError, options_from_dict
from maskbert.rundir import ARTIFACT, RUN_JSON, atomic_path, read_run, write_json_atomic

if TYPE_CHECKING:  # the registry is imported where torch is not needed (the workflow's DAG build)
    import torch
    from torch import nn

    from maskbert.modeling import TaskRecord

FP32_BYTES, BIT_BYTES = 4, 1 / 8
ARTIFACT_RECORD = "maskbert.json"  # every artifact's description of itself
ARTIFACT_FORMAT = 1
LEGACY_MASK_RECORD = "masking_config.json"  # what save_masks wrote before artifacts recorded themselves


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


@dataclass
class ArtifactRecord:
    """An artifact's ``maskbert.json``: the method that wrote it, the base model it goes on (name and
    fingerprint of its pretrained weights), the task it serves, the method's options and the run's seed, and,
    for a method registered outside maskbert, the module that registers it (so that `maskbert predict` in a
    fresh process can import it, as the workflow imports its config's `method_modules`)."""

    method: str
    base_model: str
    base_fingerprint: str | None
    task: TaskRecord
    options: dict = field(default_factory=dict)
    seed: int = 0
    module: str | None = None

    @classmethod
    def of_run(cls, method: Method, model: nn.Module, run: dict) -> ArtifactRecord:
        """The record of `model` trained with `method` by a run whose run.json is `run`."""
        from maskbert.modeling import TaskRecord, model_record

        fingerprint = model_record(model).base_fingerprint
        return cls(
            method.name,
            run["model"],
            fingerprint,
            TaskRecord.of_run(run),
            dict(run.get("options") or {}),
            run["seed"],
            None if type(method).__module__.startswith("maskbert.") else type(method).__module__,
        )

    def to_dict(self) -> dict:
        return {
            "format_version": ARTIFACT_FORMAT,
            "method": self.method,
            "base_model": self.base_model,
            "base_fingerprint": self.base_fingerprint,
            "task": self.task.to_dict(),
            "options": self.options,
            "seed": self.seed,
            **({"module": self.module} if self.module else {}),
        }

    def write(self, directory: Path) -> Path:
        return write_json_atomic(Path(directory) / ARTIFACT_RECORD, self.to_dict())

    @classmethod
    def read(cls, directory: Path) -> ArtifactRecord:
        """The record in `directory`; an ArtifactError naming the file and the field when it is damaged."""
        from maskbert.artifact import ArtifactError
        from maskbert.modeling import TaskRecord

        path = Path(directory) / ARTIFACT_RECORD
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ArtifactError(f"{path}: not a readable artifact record ({error})") from None
        if not isinstance(values, dict):
            raise ArtifactError(f"{path}: expected a JSON object (method, base_model, task, ...)")
        version = values.get("format_version", ARTIFACT_FORMAT)  # peft's record had none before version 1
        if version != ARTIFACT_FORMAT:
            raise ArtifactError(
                f"{path}: field 'format_version' {json.dumps(version)}, expected {ARTIFACT_FORMAT}"
            )
        for key in ("method", "base_model", "task"):
            if not values.get(key):
                raise ArtifactError(f"{path}: field '{key}' is missing")
        try:
            task = TaskRecord.of(values["task"])
        except (KeyError, TypeError, AttributeError):
            raise ArtifactError(
                f"{path}: field 'task' is not an object of name, kind and label_names"
            ) from None
        try:
            return cls(
                str(values["method"]),
                str(values["base_model"]),
                values.get("base_fingerprint"),
                task,
                dict(values.get("options") or {}),
                int(values.get("seed", 0)),
                values.get("module") or None,
            )
        except (TypeError, ValueError) as error:
            raise ArtifactError(f"{path}: field 'options' or 'seed' is malformed ({error})") from None


def find_artifact(path: str | Path) -> tuple[Path, ArtifactRecord]:
    """(folder, record) of the artifact `path` names: an artifact folder (a run's artifact/, a save_masks
    directory), a run directory, or a file inside the folder. A run or mask directory written before
    artifacts recorded themselves is described by its run.json or masking_config.json. Anything else is an
    ArtifactError naming the path."""
    from maskbert.artifact import ArtifactError
    from maskbert.modeling import TaskRecord

    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: no such file or directory")
    folder = path.parent if path.is_file() else path
    for candidate in (folder, folder / ARTIFACT):
        if (candidate / ARTIFACT_RECORD).is_file():
            return candidate, ArtifactRecord.read(candidate)
    for run_dir, artifact in ((folder, folder / ARTIFACT), (folder.parent, folder)):
        if artifact.name == ARTIFACT and artifact.is_dir() and (run_dir / RUN_JSON).is_file():
            run = read_run(run_dir)
            task = TaskRecord.of_run(run)
            return artifact, ArtifactRecord(
                run["method"], run["model"], None, task, run.get("options") or {}, run["seed"]
            )
    if (folder / LEGACY_MASK_RECORD).is_file():
        try:
            saved = json.loads((folder / LEGACY_MASK_RECORD).read_text())
            options = {k: v for k, v in saved["masking"].items() if k != "seed"}
            task = TaskRecord.of(saved["task"])
            record = ArtifactRecord("masking", saved["base_model"], saved["base_fingerprint"], task, options)
            return folder, dataclasses.replace(record, seed=saved["masking"].get("seed", 0))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ArtifactError(
                f"{folder / LEGACY_MASK_RECORD}: not a readable mask directory record ({error})"
            ) from None
    raise ArtifactError(
        f"{path}: not an artifact maskbert wrote: no {ARTIFACT_RECORD} in {folder} or {folder / ARTIFACT}"
    )


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

    # --- the artifact, end to end: saved, loaded onto a base, served on a shared backbone ---

    def save(self, model: nn.Module, artifact_dir: Path, record: dict) -> dict:
        """Write the artifact of `model`, trained by the run whose run.json is `record`, into the empty
        directory `artifact_dir`; return summary fields (artifact_bytes and the method's own)."""
        return self.write_artifact(model, Path(artifact_dir), ArtifactRecord.of_run(self, model, record))

    def write_artifact(self, model: nn.Module, artifact_dir: Path, record: ArtifactRecord, **how) -> dict:
        """The method's files (`save_files`, given `how`), then the record that describes them."""
        fields = self.save_files(model, Path(artifact_dir), record, **how)
        record.write(artifact_dir)
        return {"artifact_bytes": artifact_bytes(artifact_dir), **fields}

    @property
    def parameters_file(self) -> str:
        """The default artifact's tensor file."""
        return f"{self.name}.safetensors"

    def save_files(self, model: nn.Module, artifact_dir: Path, record: ArtifactRecord) -> dict:
        """Write the method's own files; return its summary fields. Default: the trainable parameters in
        fp32, by their names in the task model."""
        from safetensors.torch import save_file

        tensors = {
            name: parameter.detach().float().cpu().contiguous()
            for name, parameter in self.trainable_parameters(model).items()
        }
        with atomic_path(artifact_dir / self.parameters_file) as tmp:
            save_file(tensors, str(tmp))
        return {}

    def load(self, artifact_dir: str | Path, device: str = "cpu", base_model: str | None = None) -> nn.Module:
        """The trained model from its artifact (see `find_artifact`), on the recorded base model or on
        `base_model` (the same checkpoint elsewhere), in eval mode; its record's `task` is set."""
        from maskbert.artifact import ArtifactError
        from maskbert.modeling import model_record

        folder, record = find_artifact(artifact_dir)
        if record.method != self.name:
            raise ArtifactError(f"{folder}: an artifact of method '{record.method}', not of '{self.name}'")
        model = self.load_files(folder, record, base_model or record.base_model)
        model_record(model).task = record.task
        return model.to(device).eval()

    def load_files(self, folder: Path, record: ArtifactRecord, base_model: str) -> nn.Module:
        """The model rebuilt from the method's files on `base_model`. Default: the model `build` makes,
        its trainable parameters set from the default file."""
        import torch

        from maskbert.artifact import check_base, read_tensors
        from maskbert.modeling import model_record

        model = self.build(base_model, record.task, record.seed, record.options)
        fingerprint = model_record(model).base_fingerprint
        check_base(
            str(folder / ARTIFACT_RECORD), record.base_model, record.base_fingerprint, fingerprint, base_model
        )
        path = folder / self.parameters_file
        trainable = self.trainable_parameters(model)
        tensors = check_tensors(path, read_tensors(path), {n: p.shape for n, p in trainable.items()})
        with torch.no_grad():
            for name, value in tensors.items():
                trainable[name].copy_(value)
        return model

    def check_servable(self, folder: Path) -> None:
        """Refuse, before the server loads anything, an artifact that cannot share a backbone. Default: one
        whose method stores its own format without saying how to serve it (`served_task`)."""
        if type(self).save_files is not Method.save_files and type(self).served_task is Method.served_task:
            raise ValueError(
                f"{folder}: method '{self.name}' stores its own artifact format and does not say how to serve "
                "it on a shared backbone (Method.served_task)"
            )

    def served_task(
        self, name: str, folder: Path, record: ArtifactRecord, model: nn.Module, server
    ) -> ServedTask:
        """The artifact as task `name` on a server's shared backbone (`model`: the backbone under the task's
        head class; `server`: the `maskbert.serving.MaskServer`, whose `shared` dict keeps what a method
        shares between its tasks). Default, for the default artifact: its tensors outside the head are
        copied into the backbone's parameters while the task is on (`ParameterDelta`)."""
        from maskbert.artifact import read_tensors
        from maskbert.modeling import model_record

        path = folder / self.parameters_file
        tensors = read_tensors(path)
        head_names = set(model_record(model).random_init)
        head = {n: t for n, t in tensors.items() if n in head_names}
        shapes = {}
        for tensor_name in tensors:
            try:
                shapes[tensor_name] = parameter(model, tensor_name).shape
            except (AttributeError, KeyError):
                continue
        delta = check_tensors(
            path, {n: t for n, t in tensors.items() if n not in head}, shapes, complete=False
        )
        values = {n: t.to(server.device) for n, t in delta.items()}
        return ParameterDelta(name, record.task.kind, record.task.label_names, folder, head, values)

    @abc.abstractmethod
    def task_storage(
        self, model: str, kind: str, head_outputs: int, options: Mapping[str, Any] | None = None
    ) -> list[StorageItem]:
        """What serving one task of `kind` stores (Table 8's accounting), from the model's config alone."""


@dataclass
class ServedTask:
    """A task attached to a server: its name, kind, labels, artifact folder and its head's parameters (the
    server swaps heads); a method's subclass puts the rest of its task onto the shared backbone and takes
    it off again."""

    name: str
    kind: str
    label_names: tuple[str, ...]
    path: Path
    head: dict[str, torch.Tensor]

    def put_on(self, model: nn.Module) -> None:
        """Make the shared backbone (`model`: it under this task's head class) this task's model."""

    def take_off(self, model: nn.Module) -> None:
        """Undo `put_on`: the backbone holds the pretrained weights again (heads are simply replaced)."""

    def stored_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.head.values())

    def aside_bytes(self) -> int:
        """Bytes of the pretrained values kept aside while the task is on."""
        return 0


@dataclass
class ParameterDelta(ServedTask):
    """The default served task: parameters of the task model copied over the backbone's in place while
    the task is on, the pretrained values kept aside and put back on take-off."""

    values: dict[str, torch.Tensor] = field(default_factory=dict)
    aside: dict[str, tuple] = field(default_factory=dict)

    def put_on(self, model: nn.Module) -> None:
        for name, value in self.values.items():
            target = parameter(model, name)
            self.aside[name] = (target, target.detach().clone())
            target.data.copy_(value)

    def take_off(self, model: nn.Module) -> None:
        for target, value in self.aside.values():
            target.data.copy_(value)
        self.aside.clear()

    def stored_bytes(self) -> int:
        return super().stored_bytes() + sum(t.numel() * t.element_size() for t in self.values.values())

    def aside_bytes(self) -> int:
        return sum(value.numel() * value.element_size() for _, value in self.aside.values())


def plain(module: nn.Module) -> nn.Module:
    """The layer itself under a peft tuner layer that wraps it (a mask or a bias applies to the base layer)."""
    return module.get_base_layer() if hasattr(module, "get_base_layer") else module


def parameter(model: nn.Module, name: str) -> nn.Parameter:
    """`model`'s parameter `name` as the task model names it, looked up through peft's wrappers."""
    owner, _, leaf = name.rpartition(".")
    return plain(model.get_submodule(owner))._parameters[leaf]


def check_tensors(path: Path, tensors: dict, shapes: Mapping[str, Any], complete: bool = True) -> dict:
    """`tensors` if each is one of the model's parameters `shapes` (name -> shape) with its shape (and,
    `complete`, every one is there); an ArtifactError naming the file and the tensor otherwise."""
    from maskbert.artifact import ArtifactError

    for name, value in tensors.items():
        if name not in shapes:
            raise ArtifactError(
                f"{path}: tensor '{name}' {list(value.shape)} is not a parameter of the model"
            )
        if tuple(value.shape) != tuple(shapes[name]):
            raise ArtifactError(
                f"{path}: tensor '{name}' has shape {list(value.shape)}; the model's has {list(shapes[name])}"
            )
    missing = [name for name in shapes if name not in tensors] if complete else []
    if missing:
        raise ArtifactError(f"{path}: tensor '{missing[0]}' is missing")
    return tensors


def artifact_bytes(artifact_dir: Path) -> int:
    """Bytes of every file below an artifact directory."""
    return sum(f.stat().st_size for f in Path(artifact_dir).rglob("*") if f.is_file())
