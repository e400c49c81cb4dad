"""`prepare` (read + tokenize once, atomically, reused when complete) and `load_prepared`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..pretrained import resolve_model_path
from ..rundir import replace_dir
from .custom import CUSTOM_FORMAT, is_custom_task, task_argument
from .encoding import encode_split, load_tokenizer
from .errors import DataError
from .sources import DEFAULT_SEED, get_task, read_splits
from .stats import task_statistics
from .tasks import TASKS, TaskSpec, check_source

# Bump when the encoded layout changes, so older caches are rebuilt instead of reused.
FORMAT_VERSION = 2


def default_cache_root() -> Path:
    return Path(os.environ.get("MASKBERT_CACHE") or Path.home() / ".cache" / "maskbert")


def model_slug(model: str) -> str:
    """A folder name for a model: the hub id with '/' as '--'; a local directory gets a path hash."""
    if Path(model).is_dir():
        digest = hashlib.sha256(str(Path(model).resolve()).encode()).hexdigest()[:8]
        return f"{re.sub(r'[^A-Za-z0-9._-]', '-', Path(model).resolve().name)}-{digest}"
    return re.sub(r"[^A-Za-z0-9._-]", "-", model.replace("/", "--"))


def default_out_dir(spec: TaskSpec, model: str, source: str, seed: int, cache_root=None) -> Path:
    seeded = seed != DEFAULT_SEED and (source == "synthetic" or spec.dev_from_train)
    name = f"{spec.name}-{source}" + (f"-seed{seed}" if seeded else "")
    if spec.local_format == "custom":  # a path: the file or folder name and a hash of the full task name
        name = f"{spec.display_name}-{hashlib.sha256(spec.name.encode()).hexdigest()[:8]}"
    return Path(cache_root or default_cache_root()) / model_slug(model) / name


def _fingerprint(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def _read_meta(directory: Path) -> dict | None:
    try:
        return json.loads((directory / "meta.json").read_text())
    except (OSError, ValueError):
        return None


def prepare(
    task,
    model: str,
    source: str = "hub",
    path=None,
    out_dir=None,
    max_length: int = 128,
    *,
    cache_root=None,
    seed: int = DEFAULT_SEED,
    load_dataset=None,
    encoding: str | None = None,
) -> Path:
    """Tokenize a task once for a model and return the directory; a complete matching one is reused.

    The fingerprint covers the raw examples, the tokenizer's full definition, max_length and the
    format version, so a changed local file or tokenizer gives a fresh encoding. The directory is
    written under a temporary name and renamed, so an interrupted run leaves nothing that looks done.
    The fingerprint is recorded in meta.json: a run records it too, and refuses to resume onto other data.
    `encoding` is the files' encoding (see `read_splits`).
    """
    spec = get_task(task)
    check_source(spec, source)
    out = Path(out_dir) if out_dir else default_out_dir(spec, model, source, seed, cache_root)
    if out.exists() and not (out.is_dir() and (_read_meta(out) or not any(out.iterdir()))):
        raise DataError(
            f"{out}: exists and is not a tokenized task folder (no meta.json); it would be replaced as a "
            "whole, so choose another output folder"
        )
    raw = read_splits(spec, source, path, seed=seed, load_dataset=load_dataset, encoding=encoding)
    tokenizer = load_tokenizer(model, spec.kind)
    fingerprint = _fingerprint(
        FORMAT_VERSION, spec.name, max_length, raw, tokenizer.backend_tokenizer.to_str()
    )
    existing = _read_meta(out)
    if existing and existing.get("complete") and existing.get("fingerprint") == fingerprint:
        return out

    import datasets

    encoded, truncation = {}, {}
    for split, examples in raw.items():
        columns, truncation[split] = encode_split(spec, examples, tokenizer, max_length)
        encoded[split] = datasets.Dataset.from_dict(columns)
    stats = task_statistics(spec, raw, truncation, source=source)
    meta = {
        "format_version": FORMAT_VERSION,
        "task": spec.name,
        "source": source,
        "path": str(Path(path).resolve()) if path is not None else None,
        "seed": seed,
        "encoding": encoding,
        "tokenizer_name": model,
        "tokenizer_path": resolve_model_path(model),
        "pad_token_id": tokenizer.pad_token_id,
        "max_length": max_length,
        "splits": list(raw),
        "task_spec": _spec_fields(spec) if spec.local_format == CUSTOM_FORMAT else None,
        "fingerprint": fingerprint,
        "complete": True,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        datasets.DatasetDict(encoded).save_to_disk(str(tmp))
        (tmp / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        _replace_dir(tmp, out, fingerprint)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _replace_dir(tmp: Path, out: Path, fingerprint: str) -> None:
    """Move the finished `tmp` to `out`; a stale `out` is moved aside first and then deleted.

    When a concurrent job finished the same encoding first, its directory is kept as it is.
    """
    current = _read_meta(out)
    if current and current.get("complete") and current.get("fingerprint") == fingerprint:
        return
    replace_dir(tmp, out)


def prepare_for_run(run: dict, task: str) -> Path:
    """A data file or folder tokenized as a run's own data was (its model and max_length), so that a run
    can be scored on its data after the files moved (`maskbert evaluate --task PATH`)."""
    if not is_custom_task(task):
        raise DataError(
            f"--task {task}: expected a data file or folder (a registry task's data: give --prepared DIR)"
        )
    return prepare(task_argument(task), run["model"], max_length=run["max_length"])


# What a custom task's TaskSpec holds; recorded in meta.json so the prepared data stands on its own.
CUSTOM_SPEC_FIELDS = (
    "name",
    "display_name",
    "kind",
    "label_names",
    "metric",
    "splits",
    "reported_split",
    "sources",
    "local_format",
)


def _spec_fields(spec: TaskSpec) -> dict:
    return {field: getattr(spec, field) for field in CUSTOM_SPEC_FIELDS}


def _task_of(directory: Path, meta: dict) -> TaskSpec:
    """The prepared task's spec: the registry's, or a custom task's as recorded in meta.json, so that
    prepared data (and the runs trained on it) stay usable after the data files have moved. Data prepared
    before the spec was recorded reads it from the files, and says so when they are gone."""
    recorded = meta.get("task_spec")
    if meta["task"] in TASKS or not recorded:
        try:
            return get_task(meta["task"])
        except ValueError as error:
            raise DataError(
                f"{directory}: prepared from task '{meta['task']}', which cannot be read any more ({error}); "
                "prepare the task again from where its files are now"
            ) from None
    return TaskSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items()})


@dataclass
class PreparedTask:
    """A prepared task: the spec, the encoded splits (python-list format) and their statistics."""

    task: TaskSpec
    splits: dict
    stats: dict
    tokenizer_name: str
    pad_token_id: int
    meta: dict
    path: Path


def load_prepared(directory) -> PreparedTask:
    """Open a directory written by `prepare`."""
    import datasets

    directory = Path(directory)
    meta = _read_meta(directory)
    if not meta or not meta.get("complete"):
        raise DataError(
            f"{directory / 'meta.json'}: missing or incomplete; expected a directory written by "
            "maskbert.data.prepare()"
        )
    dataset_dict = datasets.load_from_disk(str(directory))
    return PreparedTask(
        task=_task_of(directory, meta),
        splits={split: dataset_dict[split] for split in meta["splits"]},
        stats=json.loads((directory / "stats.json").read_text()),
        tokenizer_name=meta["tokenizer_name"],
        pad_token_id=meta["pad_token_id"],
        meta=meta,
        path=directory,
    )
