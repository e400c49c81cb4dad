"""Reading and writing a run directory: the one place that knows its files (see docs/ARCHITECTURE.md).

Every file here is written through a temporary name and a rename (`atomic_path`, `replace_dir`), so a
reader, or a run killed half-way, never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

# Files `train` writes into RUN/ (what a workflow declares as the job's outputs).
RUN_JSON, METRICS, SUMMARY = "run.json", "metrics.jsonl", "summary.json"
DEV_PREDICTIONS, ARTIFACT = "dev_predictions.safetensors", "artifact"
# Resumable state of an unfinished run. It is not an output, so a workflow manager that deletes the
# outputs of an interrupted job before rerunning it leaves it alone and the rerun resumes from it.
PROGRESS, CHECKPOINT = ".progress", "checkpoint.pt"
EVALUATION = "evaluation"  # default folder of `evaluate_run`'s files
ARTIFACT_SHA256 = "artifact_sha256"  # summary.json's checksums of the artifact's files
MASK_FILE = "mask.safetensors"  # a masking artifact's (and a mask directory's) one tensor file


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; on success it is renamed to `path`, else removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def write_json_atomic(path: str | Path, value) -> Path:
    """Write JSON so that a reader never sees half a file."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(value, indent=2) + "\n")
    return Path(path)


def write_lines_atomic(path: str | Path, values: list[dict]) -> Path:
    """Write JSON lines (one dict per line) so that a reader never sees half a file."""
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(value) + "\n" for value in values))
    return Path(path)


def replace_dir(source: str | Path, target: str | Path) -> Path:
    """Put directory `source` in the place of `target` (rename; an existing `target` is removed after).

    A directory cannot be renamed over a non-empty one, so the old one is moved aside first (under a name
    of its own, so two writers never share it); a crash between the two renames leaves `target` missing,
    never a mix of old and new files. Only for directories the project writes whole (never a user's).
    """
    source, target = Path(source), Path(target)
    previous = target.with_name(f".{target.name}.previous-{uuid.uuid4().hex[:8]}")
    if target.exists():
        os.replace(target, previous)
    os.replace(source, target)
    shutil.rmtree(previous, ignore_errors=True)
    return target


def own_file(run_dir: str | Path, path: str | Path) -> str | None:
    """The name of the run's own file that `path` is or lies in (run.json, artifact/, ...), else None:
    what another command must never write over."""
    run_dir, path = Path(run_dir).resolve(), Path(path).resolve()
    for name in (RUN_JSON, METRICS, SUMMARY, DEV_PREDICTIONS, ARTIFACT, PROGRESS):
        if path == run_dir / name or (run_dir / name) in path.parents:
            return name
    return None


def artifact_checksums(directory: str | Path) -> dict[str, str]:
    """SHA-256 of every file under a run's artifact/ by relative path, whatever the method wrote there:
    recorded in summary.json so that a rerun can tell a damaged artifact from a finished one."""
    directory = Path(directory)
    checksums = {}
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        checksums[file.relative_to(directory).as_posix()] = digest.hexdigest()
    return checksums


def artifact_damage(directory: str | Path, recorded: dict[str, str] | None) -> str | None:
    """What differs between the artifact's files and the checksums recorded at the end of training (the
    first file named), or None. A run finished before checksums were recorded (None) is trusted."""
    if recorded is None:
        return None
    found = artifact_checksums(directory)
    for name in sorted(set(recorded) | set(found)):
        if name not in found:
            return f"{Path(directory) / name} is missing"
        if name not in recorded:
            return f"{Path(directory) / name} was not written by the training run"
        if found[name] != recorded[name]:
            return f"{Path(directory) / name} does not match its checksum in {SUMMARY} (damaged)"
    return None


def link_or_copy_tree(source: str | Path, target: str | Path) -> Path:
    """Place a copy of file or directory `source` at `target` atomically, by hard links where possible.

    Used to publish the best artifact of a run while its scratch copy stays until the run is marked
    done, so a run killed while publishing can still finish from the scratch copy.
    """
    source, target = Path(source), Path(target)
    tmp = target.with_name(target.name + ".tmp")
    if source.is_dir():
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp, copy_function=_link_or_copy)
        return replace_dir(tmp, target)
    tmp.unlink(missing_ok=True)
    _link_or_copy(source, tmp)
    os.utime(tmp)  # published now: newer than the job's inputs, whenever the scratch copy was written
    os.replace(tmp, target)
    return target


def _link_or_copy(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def read_run(run_dir: str | Path) -> dict:
    """The resolved configuration of a run (its run.json)."""
    path = Path(run_dir) / RUN_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a run directory (no {RUN_JSON})")
    return json.loads(path.read_text())
