"""`get_task` and `read_splits`: a task by name (registry or the user's files), and its raw examples from
one source, with dev held out from train where needed."""

from __future__ import annotations

import random
from pathlib import Path

from .custom import (
    CUSTOM_FORMAT,
    DEV_FRACTION,
    check_hold_out,
    custom_task,
    is_custom_task,
    read_custom_splits,
    with_encoding,
)
from .errors import DataError
from .hub import read_hub
from .readers import read_local
from .synthetic import generate
from .tasks import TASKS, TaskSpec, check_source

# Seed of the train/dev hold-out (TREC, AG) and of the synthetic tasks; fixed so every job sees one dev.
DEFAULT_SEED = 42


def get_task(name: str | TaskSpec) -> TaskSpec:
    """The registered spec of `name` (a spec passes through); a data file or folder is a custom task."""
    if isinstance(name, TaskSpec):
        return name
    if name in TASKS:
        return TASKS[name]
    if is_custom_task(name):
        return custom_task(name)
    raise ValueError(f"unknown task '{name}'; expected one of: {', '.join(TASKS)}")


def hold_out(train: list[dict], size: int, seed: int, where: str) -> tuple[list[dict], list[dict]]:
    """Split `size` random examples off `train` as dev; both keep the file order."""
    if len(train) <= size:
        raise DataError(f"{where}: {len(train)} training examples; need more than {size} to hold out dev")
    dev_indices = set(random.Random(seed).sample(range(len(train)), size))
    rest = [ex for i, ex in enumerate(train) if i not in dev_indices]
    dev = [ex for i, ex in enumerate(train) if i in dev_indices]
    return rest, dev


def read_splits(
    task,
    source: str,
    path=None,
    *,
    seed: int = DEFAULT_SEED,
    splits=None,
    load_dataset=None,
    encoding: str | None = None,
) -> dict[str, list[dict]]:
    """Raw examples per split: text fields and label *names* (tagging: tokens and tags).

    `splits` restricts what is read (default: all of the task's splits), e.g. ("dev",) for a local
    QNLI copy without train. `load_dataset` replaces `datasets.load_dataset` for the hub source.
    `encoding` is the files' encoding (a data file's, or a registry task's local copy's); the hub and
    synthetic sources read no files, so it is refused there rather than ignored.
    """
    if encoding and is_custom_task(getattr(task, "name", task)):
        task = with_encoding(getattr(task, "name", task), encoding)  # the name says how to read its files
    spec = get_task(task)
    check_source(spec, source)
    if encoding and spec.local_format != CUSTOM_FORMAT and source != "local":
        raise DataError(
            f"--encoding {encoding}: task '{spec.name}' from source '{source}' reads no files; "
            "the encoding applies to a data file or to --source local"
        )
    wanted = tuple(splits or spec.splits)
    unknown = [split for split in wanted if split not in spec.splits]
    if unknown:
        raise ValueError(
            f"task '{spec.name}' has no split {unknown[0]!r}; expected one of: {', '.join(spec.splits)}"
        )
    if spec.local_format == CUSTOM_FORMAT:  # the user's own files: `source` and `path` do not apply
        raw = read_custom_splits(spec)
        if "dev" not in raw:
            size = max(1, round(DEV_FRACTION * len(raw["train"])))
            raw["train"], raw["dev"] = hold_out(raw["train"], size, seed, f"{spec.name} train")
            check_hold_out(spec, raw["train"], seed)
        return {split: raw[split] for split in wanted}
    if source == "synthetic":
        generated = generate(spec.name, seed)
        return {split: generated[split] for split in wanted}
    carve = bool(spec.dev_from_train) and bool({"train", "dev"} & set(wanted))
    to_read = tuple(
        dict.fromkeys(
            "train" if split == "dev" and spec.dev_from_train else split
            for split in (*wanted, *(("train",) if carve else ()))
        )
    )
    if source == "local":
        if path is None:
            raise DataError(
                f"task '{spec.name}': source 'local' needs a path to the {spec.display_name} files"
            )
        raw = read_local(spec, Path(path), to_read, encoding)
    else:
        raw = read_hub(spec, to_read, load_dataset)
    if carve:
        raw["train"], raw["dev"] = hold_out(raw["train"], spec.dev_from_train, seed, f"{spec.name} train")
    return {split: raw[split] for split in wanted}
