"""Reading and writing a run directory: the one place that knows its files (see docs/ARCHITECTURE.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json_atomic(path: str | Path, value: dict) -> Path:
    """Write JSON through a temporary file and a rename, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def read_run(run_dir: str | Path) -> dict:
    """The resolved configuration of a run (its run.json)."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a run directory (no run.json)")
    return json.loads(path.read_text())


def load_run_model(run_dir: str | Path, device: str = "cpu"):
    """The best model of a finished run, ready for inference."""
    from maskbert.artifact import load_artifact
    from maskbert.modeling import HEAD_CLASSES

    run_dir = Path(run_dir)
    record = read_run(run_dir)
    if record["method"] == "masking":
        model, _ = load_artifact(run_dir / "artifact" / "mask.safetensors", device=device)
        return model
    model = HEAD_CLASSES[record["task_kind"]].from_pretrained(run_dir / "artifact")
    return model.to(device).eval()
