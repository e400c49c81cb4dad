"""Reading and writing a run directory: the one place that knows its files (see docs/ARCHITECTURE.md).

Every file here is written through a temporary name and a rename (`atomic_path`, `replace_dir`), so a
reader, or a run killed half-way, never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

# Files `train` writes into RUN/ (what a workflow declares as the job's outputs).
RUN_JSON, METRICS, SUMMARY = "run.json", "metrics.jsonl", "summary.json"
DEV_PREDICTIONS, ARTIFACT = "dev_predictions.safetensors", "artifact"
# Resumable state of an unfinished run. It is not an output, so a workflow manager that deletes the
# outputs of an interrupted job before rerunning it leaves it alone and the rerun resumes from it.
PROGRESS, CHECKPOINT = ".progress", "checkpoint.pt"
# The writer's lock: held by the one `train` writing RUN/, with that process's PID in it (see `run_lock`).
LOCK = ".lock"
# Where a rerun moves files it finds in RUN/artifact/ that no run wrote, instead of deleting them.
SET_ASIDE = "kept-files"
EVALUATION = "evaluation"  # default folder of `evaluate_run`'s files
ARTIFACT_SHA256 = "artifact_sha256"  # summary.json's checksums of the artifact's files
MASK_FILE = "mask.safetensors"  # a masking artifact's (and a mask directory's) one tensor file


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; on success it is renamed to `path`, else removed
    (a full disk while writing is reported as one line, `DiskFull`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with reporting_full_disk(path):
            yield tmp
        os.replace(tmp, path)
    finally:
        _remove_tree_or_file(tmp)


class RunFolderBusy(OSError):
    """Another process holds a run folder's lock: one line naming the folder and the holder's PID."""

    errno = errno.EBUSY


class DiskFull(OSError):
    """A write failed with ENOSPC: one line naming the file system and the file being written."""

    errno = errno.ENOSPC


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not path.exists():
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


def _is_disk_full(error: BaseException) -> bool:
    """ENOSPC, raised by Python's own writes or reported in the text of an error that gathers others
    (safetensors' `SafetensorError: ... (os error 28)`, shutil.copytree's `Error: [... [Errno 28] ...]`)."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    text = str(error)
    return f"(os error {errno.ENOSPC})" in text or f"[Errno {errno.ENOSPC}]" in text


@contextlib.contextmanager
def reporting_full_disk(path: str | Path) -> Iterator[None]:
    """Turn a full disk met while writing `path` into one line (`DiskFull`) naming the file system and
    the file; any other error passes unchanged."""
    try:
        yield
    except Exception as error:
        if isinstance(error, DiskFull) or not _is_disk_full(error):
            raise
        path = Path(path)
        raise DiskFull(
            f"no space left on {_mount_point(path)} while writing {path}; free space and rerun"
        ) from None


@contextlib.contextmanager
def removed_if_left_empty(directory: str | Path) -> Iterator[Path]:
    """Create `directory` (and missing parents) for a command's output; if the command fails and the
    folders it created are empty, remove them again (only those, and only when empty), so that a refused
    or failed command leaves no empty output folder behind."""
    directory = Path(directory)
    created = [path for path in (directory, *directory.parents) if not path.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    try:
        yield directory
    except BaseException:
        for path in created:
            try:
                path.rmdir()
            except OSError:
                break  # not empty: another writer's files, or files this command keeps
        raise


def set_aside_unknown_files(directory: str | Path, known: set[str]) -> list[Path]:
    """Move every file under `directory` whose relative path is not in `known` to RUN/kept-files/NAME/
    (RUN the directory's parent, NAME its name), so that replacing a directory the project writes never
    deletes a file someone else put in it; returns the new paths. A name already taken there gets a
    numbered suffix."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    moved = []
    for file in sorted(p for p in directory.rglob("*") if p.is_file() or p.is_symlink()):
        relative = file.relative_to(directory).as_posix()
        if relative in known:
            continue
        target = directory.parent / SET_ASIDE / directory.name / relative
        number = 1
        while target.exists() or target.is_symlink():
            number += 1
            target = target.with_name(f"{Path(relative).stem}-{number}{Path(relative).suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(file, target)
        moved.append(target)
    return moved


@contextlib.contextmanager
def run_lock(run_dir: str | Path, wait: bool = False, poll_seconds: float = 1.0) -> Iterator[Path]:
    """Hold RUN/.lock (`fcntl.flock`) while training writes RUN/, so that one process writes a run folder.

    Another holder makes this raise `RunFolderBusy` naming the folder and the holder's PID, or, with
    `wait`, block until it is done. The kernel drops the lock of a process that dies, so a stale lock
    (a killed holder's file) is simply taken over. The file is removed on release; a process that locked
    a file removed meanwhile tries again on the new one (so two processes never hold two files).
    """
    path = Path(run_dir) / LOCK
    announced = False
    while True:
        handle = open(path, "a+")  # held open as long as the lock is held
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            if not wait:
                raise RunFolderBusy(
                    f"{run_dir}: another training (PID {holder}) is writing this run folder; "
                    "let it finish, pass --wait to wait for it, or choose another --out",
                ) from None
            if not announced:
                print(
                    f"{run_dir}: waiting for PID {holder}, which is writing this run folder", file=sys.stderr
                )
                announced = True
            time.sleep(poll_seconds)
            continue
        try:
            same_file = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same_file = False
        if same_file:
            break
        handle.close()  # the holder removed the file while this process waited on it: lock the new one
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield path
    finally:
        path.unlink(missing_ok=True)
        handle.close()


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
    for name in (RUN_JSON, METRICS, SUMMARY, DEV_PREDICTIONS, ARTIFACT, PROGRESS, LOCK, SET_ASIDE):
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
    first file named), or None; files not recorded are not the run's and not damage. A run finished
    before checksums were recorded (None) is trusted."""
    if recorded is None:
        return None
    found = artifact_checksums(directory)
    for name in sorted(recorded):
        if name not in found:
            return f"{Path(directory) / name} is missing"
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
    _remove_tree_or_file(tmp)
    try:
        with reporting_full_disk(target):
            if source.is_dir():
                shutil.copytree(source, tmp, copy_function=_link_or_copy)
            else:
                _link_or_copy(source, tmp)
                os.utime(
                    tmp
                )  # published now: newer than the job's inputs, whenever the scratch copy was written
    except BaseException:
        _remove_tree_or_file(tmp)
        raise
    if source.is_dir():
        return replace_dir(tmp, target)
    os.replace(tmp, target)
    return target


def _remove_tree_or_file(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


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
