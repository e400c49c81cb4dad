"""A user's own classification data as a task: a CSV, TSV or JSONL file, or a folder of them.

The task *name* is the path, optionally followed by column choices, so that a run's recorded task says
everything needed to read the data again:

    reviews.csv                                   columns found by convention (below)
    reviews.csv:text=review,label=stars           named columns
    my_data/:text=premise,text_pair=hypothesis,label=gold

Conventions, first column present wins: text ``text, sentence, sentence1, question, premise, text_a``;
second text (makes a pair task) ``text_pair, sentence2, hypothesis, text_b``; label ``label, labels,
class, category, target``. CSV/TSV files have a header row; JSONL has one object per line. Files are
UTF-8, with or without a byte-order mark; ``encoding=latin-1`` (``--encoding``) reads another encoding.

Rows are checked, not guessed: a row with more or fewer fields than the header (an unquoted comma in a
text), a duplicate column name, a quote left open across lines, a text that is not a string, labels that
spell one number two ways (``1`` and ``1.0``) and a train split with a single class are refused with the
file, the line and what was expected.

A folder holds ``train`` and optionally ``dev`` (or ``validation``) and ``test`` files, each ``.csv``,
``.tsv`` or ``.jsonl`` (two files for one split, e.g. ``train.csv`` and ``train.jsonl``, are refused rather
than one picked). A single file is the train split. Without a dev file, 10% of train (at least one
example) is held out as dev with the data layer's fixed seed; a hold-out that takes every example of a
label is refused (the model could never learn it). The reported split is test when there is
one, else dev. Label names are the train split's labels sorted (numerically when every label is an
integer), so the label ids do not depend on the order of the file's rows; a dev or test label that train
lacks is an error.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from pathlib import Path

from .errors import DataError, at
from .readers import decode_file
from .tasks import SOURCES, TASKS, TaskSpec

CUSTOM_FORMAT = "custom"
SUFFIXES = (".csv", ".tsv", ".jsonl")
TEXT_COLUMNS = ("text", "sentence", "sentence1", "question", "premise", "text_a")
PAIR_COLUMNS = ("text_pair", "sentence2", "hypothesis", "text_b")
LABEL_COLUMNS = ("label", "labels", "class", "category", "target")
SPLIT_NAMES = {"train": ("train",), "dev": ("dev", "validation", "valid"), "test": ("test",)}
OPTION_KEYS = ("text", "text_pair", "label", "encoding")
DEV_FRACTION = 0.1


def split_task_name(name: str) -> tuple[Path, dict[str, str]]:
    """(path, column options) of a custom task name 'PATH[:key=column,...]'."""
    head, colon, options = name.rpartition(":")
    path = head if colon and "=" in options else name
    options = options if path is head else ""
    columns = {}
    for item in filter(None, options.split(",")):
        key, equals, column = item.partition("=")
        if not equals or key not in OPTION_KEYS or not column:
            raise DataError(
                f"task '{name}': option '{item}'; expected key=column with key one of "
                f"{', '.join(OPTION_KEYS)}"
            )
        columns[key] = column
    return Path(path), columns


def custom_task_name(
    path: str | Path,
    text: str | None = None,
    text_pair: str | None = None,
    label: str | None = None,
    encoding: str | None = None,
) -> str:
    """The task name for a data file or folder with the given columns (None: by convention)."""
    chosen = (("text", text), ("text_pair", text_pair), ("label", label), ("encoding", encoding))
    options = ",".join(f"{k}={v}" for k, v in chosen if v)
    return f"{path}:{options}" if options else str(path)


def is_custom_task(name) -> bool:
    """Whether a task name is a data file (by suffix) or an existing folder rather than a registry key."""
    if not isinstance(name, str):
        return False
    path = split_task_name(name)[0]
    return path.suffix.lower() in SUFFIXES or path.is_dir()


def split_files(path: Path) -> dict[str, Path]:
    """The file of each split: a folder's train/dev/test files, or a single file as train."""
    if path.is_file():
        return {"train": path}
    if not path.is_dir():
        raise DataError(
            f"{path}: no such data file or folder; expected a .csv, .tsv or .jsonl file or a folder of them"
        )
    files = {}
    for split, stems in SPLIT_NAMES.items():
        found = [
            path / f"{stem}{suffix}"
            for stem in stems
            for suffix in SUFFIXES
            if (path / f"{stem}{suffix}").is_file()
        ]
        if len(found) > 1:
            raise DataError(
                f"{path}: {' and '.join(file.name for file in found)} are both a {split} file; "
                f"keep one (or give the file itself as the task)"
            )
        if found:
            files[split] = found[0]
    if "train" not in files:
        raise DataError(f"{path}: no train file; expected train.csv, train.tsv or train.jsonl")
    return files


def _rows(file: Path, encoding: str = "utf-8"):
    """(line number, row dict, column names) of every data row of a CSV/TSV/JSONL file."""
    suffix = file.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{file}: unknown file type '{suffix}'; expected one of {', '.join(SUFFIXES)}")
    text = decode_file(file, encoding, "--encoding latin-1, or encoding=... in the task")
    if suffix == ".jsonl":
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise at(file, number, f"not valid JSON: {error.msg}") from None
            if not isinstance(row, dict):
                raise at(file, number, "expected a JSON object per line")
            yield number, row, tuple(row)
        return
    yield from _delimited_rows(file, text, "\t" if suffix == ".tsv" else ",")


def _delimited_rows(file: Path, text: str, delimiter: str):
    """Rows of a CSV/TSV text, each with exactly the header's fields and on one line (see module doc)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    separator = "tab" if delimiter == "\t" else "comma"
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise at(file, 1, f"unreadable header row: {error}") from None
    if not header:
        raise at(file, 1, "empty file; expected a header row")
    columns = tuple(name.strip() for name in header)
    twice = next((name for i, name in enumerate(columns) if name in columns[:i]), None)
    if twice is not None:
        raise at(
            file, 1, f"column '{twice}' appears twice in the header ({', '.join(columns)}); name it once"
        )
    end = reader.line_num
    while True:
        start = end + 1
        try:
            row = next(reader, None)
        except csv.Error as error:
            raise at(file, start, f"{error}: an unbalanced '\"' in the row starting here?") from None
        if row is None:
            return
        end = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip() and len(columns) > 1):
            continue
        if end > start:
            raise at(
                file,
                start,
                f"a quoted field runs from line {start} to line {end}: an unbalanced '\"'? "
                "(a text cannot span lines)",
            )
        if len(row) != len(columns):
            raise at(
                file,
                start,
                f"{len(row)} fields, expected {len(columns)} as in the header ({', '.join(columns)}); "
                f"quote a text that contains a {separator}",
            )
        yield start, dict(zip(columns, row)), columns


def _pick(
    columns: tuple[str, ...],
    given: str | None,
    conventional: tuple[str, ...],
    file: Path,
    line: int,
    role: str,
    required: bool = True,
) -> str | None:
    if given is not None:
        if given not in columns:
            raise at(file, line, f"{role} column '{given}' not found; columns are {', '.join(columns)}")
        return given
    found = next((name for name in conventional if name in columns), None)
    if found is None and required:
        raise at(
            file,
            line,
            f"no {role} column: expected one of {', '.join(conventional)} (or name it), "
            f"columns are {', '.join(columns)}",
        )
    return found


JSON_TYPES = {list: "a list", dict: "an object", bool: "true/false", int: "a number", float: "a number"}


def _value(row: dict, column: str, file: Path, line: int, role: str) -> str:
    value = row.get(column)
    if value is None:
        raise at(file, line, f"{role} column '{column}' is missing on this line")
    numbers = (int, float) if role == "label" else ()
    if isinstance(value, bool) or not isinstance(value, (str, *numbers)):
        expected = "a string or a number" if numbers else "a string"
        raise at(
            file,
            line,
            f"{role} in column '{column}' is {JSON_TYPES.get(type(value), type(value).__name__)}; "
            f"expected {expected}",
        )
    value = str(value).strip()
    if not value:
        raise at(file, line, f"empty {role} in column '{column}'")
    return value


def read_file(file: Path, columns: dict[str, str]) -> tuple[list[dict], bool]:
    """Examples ({text, label} or {text_a, text_b, label}) of one file, and whether it is a pair task."""
    examples, chosen = [], None
    for line, row, names in _rows(file, columns.get("encoding", "utf-8")):
        if chosen is None:
            header_line = 1
            chosen = (
                _pick(names, columns.get("text"), TEXT_COLUMNS, file, header_line, "text"),
                _pick(
                    names,
                    columns.get("text_pair"),
                    PAIR_COLUMNS,
                    file,
                    header_line,
                    "second text",
                    required=False,
                ),
                _pick(names, columns.get("label"), LABEL_COLUMNS, file, header_line, "label"),
            )
        text, pair, label = chosen
        example = {"label": _value(row, label, file, line, "label")}
        if pair is None:
            example["text"] = _value(row, text, file, line, "text")
        else:
            example["text_a"] = _value(row, text, file, line, "text")
            example["text_b"] = _value(row, pair, file, line, "second text")
        example["line"] = line
        examples.append(example)
    if not examples:
        raise at(file, None, "no examples")
    return examples, chosen[1] is not None


def _number(label: str) -> float | None:
    try:
        value = float(label)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _check_label_spellings(splits: dict[str, list[dict]], files: dict[str, Path]) -> None:
    """Refuse two spellings of one number ('1' and '1.0', '01'): they would become two classes."""
    seen: dict[float, tuple[str, Path, int]] = {}
    for split, examples in splits.items():
        for example in examples:
            label, value = example["label"], _number(example["label"])
            if value is None:
                continue
            first = seen.setdefault(value, (label, files[split], example["line"]))
            if first[0] != label:
                raise at(
                    files[split],
                    example["line"],
                    f"label '{label}' is the number of label '{first[0]}' ({first[1]}:{first[2]}) "
                    "spelled differently; spell each label one way",
                )


def _sorted_labels(labels: set[str]) -> tuple[str, ...]:
    try:
        return tuple(sorted(labels, key=int))
    except ValueError:
        return tuple(sorted(labels))


@functools.lru_cache(maxsize=16)
def _read_all(name: str, stamp: tuple) -> tuple[dict[str, list[dict]], bool, tuple[str, ...]]:
    path, columns = split_task_name(name)
    files = split_files(path)
    splits, pair_flags = {}, {}
    for split, file in files.items():
        splits[split], pair_flags[file.name] = read_file(file, columns)
    if len(set(pair_flags.values())) > 1:
        pairs = ", ".join(f"{file} {'has' if pair else 'lacks'} one" for file, pair in pair_flags.items())
        raise DataError(f"{path}: some split files have a second text column and others do not ({pairs})")
    _check_label_spellings(splits, files)
    labels = _sorted_labels({ex["label"] for ex in splits["train"]})
    if len(labels) < 2:
        raise at(
            files["train"],
            None,
            f"every example has label '{labels[0]}'; a classifier needs two or more labels",
        )
    for split in ("dev", "test"):
        for example in splits.get(split, ()):
            if example["label"] not in labels:
                raise at(
                    files[split],
                    example["line"],
                    f"label '{example['label']}' does not occur in train "
                    f"({files['train']}); train labels: {', '.join(labels)}",
                )
    return splits, next(iter(pair_flags.values())), labels


def _stamp(name: str) -> tuple:
    """File sizes and modification times, so an edited file is read again."""
    path = split_task_name(name)[0]
    files = split_files(path).values()
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)


def check_hold_out(spec: TaskSpec, train: list[dict], seed: int) -> None:
    """Refuse an automatic dev hold-out that left a train label without a training example (a class with
    few examples whose every example went to dev): the model would have an output it never learned."""
    left = {example["label"] for example in train}
    missing = [label for label in spec.label_names if label not in left]
    if missing:
        file = split_files(split_task_name(spec.name)[0])["train"]
        raise at(
            file,
            None,
            f"label '{missing[0]}' has too few examples: the automatic dev hold-out ({DEV_FRACTION:.0%}, "
            f"seed {seed}) took all of them, leaving none to train on; add examples of it or give a dev file",
        )


def with_encoding(name: str, encoding: str) -> str:
    """A custom task name that reads its files in `encoding` (the name carries it, so run.json does)."""
    path, columns = split_task_name(name)
    return custom_task_name(path, **{**columns, "encoding": encoding})


def custom_task(name: str) -> TaskSpec:
    """The TaskSpec of a custom task name (reads the files to find the kind and the train labels)."""
    splits, pair, labels = _read_all(name, _stamp(name))
    path = split_task_name(name)[0]
    split_names = ("train", "dev", *(("test",) if "test" in splits else ()))
    return TaskSpec(
        name=name,
        display_name=path.stem if path.is_file() else path.resolve().name,
        kind="pair" if pair else "single",
        label_names=labels,
        metric="accuracy",
        splits=split_names,
        reported_split="test" if "test" in splits else "dev",
        sources=SOURCES,
        local_format=CUSTOM_FORMAT,
    )


def read_custom_splits(spec: TaskSpec) -> dict[str, list[dict]]:
    """Raw examples of every split file of a custom task (the caller holds dev out of train without one)."""
    splits, _, _ = _read_all(spec.name, _stamp(spec.name))
    return {
        split: [{k: v for k, v in ex.items() if k != "line"} for ex in examples]
        for split, examples in splits.items()
    }


def task_argument(
    task: str,
    text: str | None = None,
    text_pair: str | None = None,
    label: str | None = None,
    encoding: str | None = None,
) -> str:
    """The command line's --task with its column flags folded in, a custom task's path made absolute
    (the run records a name that reads the same data from any working directory). A registry task takes
    no column flags; its --encoding goes to its local reader (`read_splits(encoding=...)`) instead."""
    if task in TASKS:
        if text or text_pair or label:
            raise DataError(
                f"--task {task}: column flags apply to a data file or folder, not a registry task"
            )
        return task
    if not is_custom_task(task):
        return task
    path, columns = split_task_name(task)
    given = (("text", text), ("text_pair", text_pair), ("label", label), ("encoding", encoding))
    columns.update({k: v for k, v in given if v})
    return custom_task_name(path.resolve(), **columns)


def add_column_arguments(parser) -> None:
    """--text-column, --text-pair-column, --label-column for commands that take --task."""
    parser.add_argument("--text-column", help="custom data: the text column (default: text, sentence, ...)")
    parser.add_argument("--text-pair-column", help="custom data: a second text column, making a pair task")
    parser.add_argument("--label-column", help="custom data: the label column (default: label, class, ...)")
    parser.add_argument(
        "--encoding", help="custom data: the files' encoding (default utf-8, with or without BOM)"
    )
