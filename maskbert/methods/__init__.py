"""The training methods, registered in one place: `METHODS` maps a method's name to its object.

Registered here: masking, finetuning, bitfit, and peft's tuners (lora, ia3, and peft: any tuner by type).
Adding a method is one module with a `Method` subclass and one line here (or,
for a method that lives outside this package, a call to `register` in a module the workflow's
`method_modules` config key names). Nothing else in maskbert, the command line or the workflow changes.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from maskbert.methods.base import ArtifactRecord, Method, StorageItem, find_artifact
from maskbert.methods.bitfit import BitFit
from maskbert.methods.finetuning import Finetuning
from maskbert.methods.masking import Masking
from maskbert.methods.peft_tuners import PeftTuner, ia3_defaults, lora_defaults
from maskbert.rundir import ARTIFACT

METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add `method` to the registry under its name; a second method of the same name is refused."""
    if not isinstance(method, Method):
        raise TypeError(f"register() takes a Method instance, not {type(method).__name__}")
    if METHODS.setdefault(method.name, method) is not method:
        raise ValueError(f"method '{method.name}' is registered already")
    return method


for _method in (
    Masking(),
    Finetuning(),
    BitFit(),
    PeftTuner("lora", "LORA", lora_defaults),
    PeftTuner("ia3", "IA3", ia3_defaults),
    PeftTuner("peft"),
):
    register(_method)


def get_method(name: str) -> Method:
    """The registered method called `name`; a ValueError naming the known ones otherwise."""
    if name not in METHODS:
        raise ValueError(f"method '{name}': expected one of {', '.join(METHODS)}")
    return METHODS[name]


def build_model(model: str, task, method: str, seed: int, options: Mapping[str, Any] | None = None):
    """The task model prepared for training with `method` (see `Method.build`)."""
    return get_method(method).build(model, task, seed, options)


def method_of(record: ArtifactRecord, folder: Path) -> Method:
    """The method that wrote the artifact in `folder`. One registered outside maskbert is registered first
    by importing the module its record names, as the workflow imports its config's `method_modules`."""
    if record.method not in METHODS and record.module:
        try:
            importlib.import_module(record.module)
        except Exception as error:  # whatever the module raises on import: named with the artifact
            from maskbert.artifact import ArtifactError

            text = (str(error).strip() or type(error).__name__).splitlines()[0]
            raise ArtifactError(
                f"{folder}: method '{record.method}' is registered by module '{record.module}', which "
                f"cannot be imported: {type(error).__name__}: {text}"
            ) from None
    return get_method(record.method)


def load_artifact(path: str | Path, device: str = "cpu", base_model: str | None = None):
    """The trained model of any method's artifact (a run directory, its artifact/ folder, a save_masks
    directory; see `find_artifact`), by the method its record names, on the recorded base model or on
    `base_model`, in eval mode."""
    folder, record = find_artifact(path)
    return method_of(record, folder).load(folder, device=device, base_model=base_model)


def load_run_model(run_dir: str | Path, device: str = "cpu"):
    """The best model of a finished run, ready for inference (its method rebuilds it from RUN/artifact)."""
    artifact = Path(run_dir) / ARTIFACT
    if not artifact.is_dir():
        raise FileNotFoundError(f"{artifact}: no artifact; is the run finished (summary.json)?")
    return load_artifact(artifact, device)


__all__ = [
    "METHODS",
    "ArtifactRecord",
    "Method",
    "StorageItem",
    "build_model",
    "find_artifact",
    "get_method",
    "load_artifact",
    "load_run_model",
    "method_of",
    "register",
]
