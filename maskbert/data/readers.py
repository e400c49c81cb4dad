"""Readers for the datasets' standard distribution formats (the `local` source).

Each reader turns one file into raw examples (text fields and label *names*) and raises a one-line
`DataError` naming file, line and expectation on the first malformed row.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import at
from .tasks import TaskSpec

Example = dict
csv.field_size_limit(sys.maxsize)  # IMDB reviews and SWAG rows exceed csv's default 128 KiB field limit

# GLUE TSV layouts: header row?, column count, text columns, label column, labels given as indices?
GLUE_LAYOUTS = {
    "mrpc": (True, 5, (3, 4), 0, True),
    "sst2": (True, 2, (0,), 1, True),
    "cola": (False, 4, (3,), 1, True),
    "rte": (True, 4, (1, 2), 3, False),
    "qnli": (True, 4, (1, 2), 3, False),
}
# Sentences per block of the WSJ split of Collins (2002): sections 0-18 / 19-21 / 22-24.
WSJ_SPLIT_SENTENCES = {"train": 38_219, "dev": 5_527, "test": 5_462}
WSJ_SECTIONS = {"train": range(19), "dev": range(19, 22), "test": range(22, 25)}
WSJ_FILE = re.compile(r"wsj_(\d\d)\d\d(\.\w+)?$")


def decode_file(file: Path, encoding: str, hint: str = "--encoding latin-1") -> str:
    """A file's text in `encoding` (UTF-8's byte-order mark dropped); an unknown encoding, or a byte the
    encoding cannot read, is one line naming the file, the line and the byte, and how to name another
    encoding (`hint`)."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise at(file, None, f"unknown encoding '{encoding}'; expected e.g. utf-8, latin-1, cp1252") from None
    data = file.read_bytes()
    try:
        return data.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise at(
            file,
            line,
            f"byte 0x{data[error.start]:02x} (offset {error.start}) is not valid {encoding}; "
            f"save the file as UTF-8 or name its encoding ({hint})",
        ) from None


def _open_text(file: Path, encoding: str | None, default: str, newline: str | None = None) -> io.StringIO:
    """The file as a text stream in the given encoding (else the format's `default`), like `open`'s."""
    return io.StringIO(decode_file(file, encoding or default), newline=newline)


def _label(spec: TaskSpec, raw: str, file: Path, line: int, by_index: bool = False) -> str:
    """Map a raw label (a name, or an index into label_names) to a label name."""
    if by_index:
        if raw.isdigit() and int(raw) < spec.num_labels:
            return spec.label_names[int(raw)]
        expected = ", ".join(str(i) for i in range(spec.num_labels))
    elif raw in spec.label_names:
        return raw
    else:
        expected = ", ".join(spec.label_names)
    raise at(file, line, f"unknown label {raw!r}; expected one of: {expected}")


def _text(raw: str, file: Path, line: int, what: str = "text") -> str:
    text = raw.strip()
    if not text:
        raise at(file, line, f"empty {what}")
    return text


def read_glue(spec: TaskSpec, file: Path, encoding: str | None = None) -> list[Example]:
    """A GLUE TSV, read without quote processing (MRPC and SST-2 contain bare `"`)."""
    has_header, ncols, text_cols, label_col, by_index = GLUE_LAYOUTS[spec.name]
    examples = []
    with _open_text(file, encoding, "utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in reader:
            if has_header and reader.line_num == 1 or not row:
                continue
            if len(row) != ncols:
                raise at(file, reader.line_num, f"expected {ncols} tab-separated columns, got {len(row)}")
            texts = [_text(row[col], file, reader.line_num) for col in text_cols]
            label = _label(spec, row[label_col].strip(), file, reader.line_num, by_index)
            if len(texts) == 1:
                examples.append({"text": texts[0], "label": label})
            else:
                examples.append({"text_a": texts[0], "text_b": texts[1], "label": label})
    return examples


def read_trec(spec: TaskSpec, file: Path, encoding: str | None = None) -> list[Example]:
    """UIUC `.label` file: `COARSE:fine question`, Latin-1; TREC-6 keeps the coarse class."""
    examples = []
    with _open_text(file, encoding, "latin-1") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            label_part, _, question = line.strip().partition(" ")
            coarse, colon, fine = label_part.partition(":")
            if not colon or not fine:
                raise at(file, line_no, f"expected 'COARSE:fine question', got {line.strip()[:40]!r}")
            label = _label(spec, coarse, file, line_no)
            examples.append({"text": _text(question, file, line_no, "question"), "label": label})
    return examples


def read_ag_news(spec: TaskSpec, file: Path, encoding: str | None = None) -> list[Example]:
    """AG News CSV: `class,title,description`, classes 1-4; text = title + ' ' + description (as the hub)."""
    examples = []
    with _open_text(file, encoding, "utf-8", newline="") as handle:
        reader = csv.reader(handle)
        for row in reader:
            if not row:
                continue
            if len(row) != 3:
                raise at(
                    file, reader.line_num, f"expected 3 columns (class,title,description), got {len(row)}"
                )
            cls = row[0].strip()
            if not (cls.isdigit() and 1 <= int(cls) <= spec.num_labels):
                raise at(file, reader.line_num, f"unknown class {cls!r}; expected 1..{spec.num_labels}")
            text = _text(f"{row[1].strip()} {row[2].strip()}", file, reader.line_num)
            examples.append({"text": text, "label": spec.label_names[int(cls) - 1]})
    return examples


def read_semeval(spec: TaskSpec, file: Path, encoding: str | None = None) -> list[Example]:
    """SemEval-2016 4B TSV: `tweet_id<TAB>topic<TAB>label<TAB>text`, no header, quotes are literal."""
    examples = []
    with _open_text(file, encoding, "utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) == 5 and not fields[4].strip():
                fields = fields[:4]  # some official rows carry an empty trailing column
            if len(fields) != 4:
                raise at(
                    file,
                    line_no,
                    f"expected 4 tab-separated columns (id, topic, label, text), got {len(fields)}",
                )
            label = _label(spec, fields[2].strip(), file, line_no)
            examples.append({"text": _text(fields[3], file, line_no, "tweet text"), "label": label})
    return examples


def _sentences(file: Path, encoding: str | None = None) -> Iterator[list[tuple[int, str]]]:
    """Blocks of non-blank (line number, line) separated by blank lines."""
    block: list[tuple[int, str]] = []
    with _open_text(file, encoding, "utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                block.append((line_no, line))
            elif block:
                yield block
                block = []
    if block:
        yield block


def _tagged(
    spec: TaskSpec, file: Path, split_line: Callable[[str], list[str]], what: str, encoding: str | None
) -> list[Example]:
    examples = []
    for block in _sentences(file, encoding):
        tokens, tags = [], []
        for line_no, line in block:
            if line.startswith("-DOCSTART-"):
                continue
            fields = split_line(line)
            if len(fields) < 2 or not fields[0]:
                raise at(file, line_no, f"expected {what}, got {line[:40]!r}")
            tokens.append(fields[0])
            tags.append(_label(spec, _first_known_tag(spec, fields[-1]), file, line_no))
        if tokens:
            examples.append({"tokens": tokens, "tags": tags})
    return examples


def _first_known_tag(spec: TaskSpec, tag: str) -> str:
    """Resolve the treebank's ambiguous tags like `JJ|VBN` to their first alternative."""
    if tag not in spec.label_names and "|" in tag:
        return tag.split("|")[0]
    return tag


def read_conll(spec: TaskSpec, file: Path, encoding: str | None = None) -> list[Example]:
    """CoNLL-2003 columns (`word POS chunk NER`), tag in the last column, `-DOCSTART-` lines skipped."""
    return _tagged(spec, file, str.split, "space-separated columns 'word ... TAG'", encoding)


def read_word_tag(spec: TaskSpec, file: Path, encoding: str | None = None) -> list[Example]:
    """One `word<TAB>TAG` per line, a blank line between sentences."""

    def split_line(line: str) -> list[str]:
        fields = line.split("\t")
        return fields if len(fields) == 2 else []

    return _tagged(spec, file, split_line, "'word<TAB>TAG'", encoding)


def read_mrg(spec: TaskSpec, file: Path, encoding: str | None = None) -> list[Example]:
    """Penn Treebank `.mrg` bracketed trees: the (TAG word) leaves of each tree, traces (-NONE-) dropped.

    Trees are cut from the file by bracket depth (so errors can name a line) and parsed by nltk.
    """
    from nltk.tree import Tree

    examples, depth, tree, start_line = [], 0, [], 1
    with _open_text(file, encoding, "utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if depth == 0 and not line.strip():
                continue
            if depth == 0:
                start_line = line_no
            tree.append(line)
            depth += line.count("(") - line.count(")")
            if depth < 0:
                raise at(file, line_no, "unbalanced ')' in bracketed tree")
            if depth == 0:
                try:
                    parsed = Tree.fromstring("".join(tree))
                except ValueError as error:
                    raise at(file, start_line, f"unreadable bracketed tree ({error})") from None
                leaves = [(tag, word) for word, tag in parsed.pos() if tag != "-NONE-"]
                if not leaves:
                    raise at(file, start_line, "expected a tree with (TAG word) leaves")
                tags = [_label(spec, _first_known_tag(spec, tag), file, start_line) for tag, _ in leaves]
                examples.append({"tokens": [word for _, word in leaves], "tags": tags})
                tree = []
    if depth:
        raise at(file, start_line, "tree not closed at end of file (missing ')')")
    return examples


def read_swag(spec: TaskSpec, file: Path, encoding: str | None = None) -> list[Example]:
    """SWAG CSV with the official columns (sent1, sent2, ending0-3, label; header row)."""
    required = ("sent1", "sent2", "ending0", "ending1", "ending2", "ending3", "label")
    examples = []
    with _open_text(file, encoding, "utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [col for col in required if col not in (reader.fieldnames or ())]
        if missing:
            raise at(file, 1, f"missing columns {missing}; expected a header with {', '.join(required)}")
        for row in reader:
            if None in row or any(row[col] is None for col in required):
                raise at(file, reader.line_num, f"expected {len(reader.fieldnames)} columns")
            line = reader.line_num
            examples.append(
                {
                    "context": _text(row["sent1"], file, line, "sent1"),
                    "start": row["sent2"].strip(),
                    "endings": [_text(row[f"ending{i}"], file, line, f"ending{i}") for i in range(4)],
                    "label": _label(spec, row["label"].strip(), file, line),
                }
            )
    return examples


IMDB_LABELS = {"0": "neg", "1": "pos", "neg": "neg", "pos": "pos", "negative": "neg", "positive": "pos"}


def read_imdb(spec: TaskSpec, path: Path, encoding: str | None = None) -> list[Example]:
    """IMDB as the aclImdb `pos/` and `neg/` directories of .txt reviews, or a CSV with text and label."""
    if path.is_dir():
        examples = []
        for label in ("neg", "pos"):
            folder = path / label
            if not folder.is_dir():
                raise at(path, None, f"missing folder '{label}/'; expected pos/ and neg/ of .txt reviews")
            for review in sorted(folder.glob("*.txt")):
                examples.append(
                    {"text": _text(decode_file(review, encoding or "utf-8"), review, 1), "label": label}
                )
        return examples
    examples = []
    with _open_text(path, encoding, "utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or ()
        text_col = next((c for c in ("text", "review") if c in fields), None)
        label_col = next((c for c in ("label", "sentiment") if c in fields), None)
        if not text_col or not label_col:
            raise at(
                path, 1, "expected a header with a text column (text|review) and label (label|sentiment)"
            )
        for row in reader:
            raw = (row[label_col] or "").strip().lower()
            if raw not in IMDB_LABELS:
                raise at(path, reader.line_num, f"unknown label {raw!r}; expected one of: 0, 1, neg, pos")
            examples.append(
                {"text": _text(row[text_col] or "", path, reader.line_num), "label": IMDB_LABELS[raw]}
            )
    return examples


# Each reader takes (spec, file, encoding); encoding None reads the format's own (Latin-1 for TREC, else UTF-8).
READERS: dict[str, Callable[[TaskSpec, Path, str | None], list[Example]]] = {
    **{f"glue_{name}": read_glue for name in GLUE_LAYOUTS},
    "trec": read_trec,
    "ag_news": read_ag_news,
    "semeval": read_semeval,
    "conll": read_conll,
    "swag": read_swag,
    "imdb": read_imdb,
}


def task_dir(spec: TaskSpec, root: Path) -> Path:
    """The task's folder: `root` itself, or its conventional subfolder when `root` is a data root."""
    if not root.exists():
        raise at(root, None, f"not found; expected a directory with the {spec.display_name} files")
    nested = root / spec.local_dir
    return nested if spec.local_dir and nested.is_dir() else root


# File names of a format's official distribution, accepted after the registry's own (renamed) ones.
# SemEval-2016 4B: twitter-2016devtest-BD.tsv is not read; the paper's dev is the 1,325-tweet dev file.
OFFICIAL_FILES = {
    "semeval": {
        split: (f"twitter-2016{split}-BD.tsv", f"twitter-2016{split}-BD.txt")
        for split in ("train", "dev", "test")
    },
}


def split_file_names(spec: TaskSpec, split: str) -> tuple[str, ...]:
    """Accepted file names of a split, in order of preference."""
    return spec.files_for(split) + OFFICIAL_FILES.get(spec.local_format, {}).get(split, ())


def find_split_file(spec: TaskSpec, folder: Path, split: str) -> Path:
    names = split_file_names(spec, split)
    for name in names:
        if (folder / name).exists():
            return folder / name
    raise at(folder, None, f"no {split} file; expected one of: {', '.join(names)}")


def read_local(
    spec: TaskSpec, root: Path, splits: tuple[str, ...], encoding: str | None = None
) -> dict[str, list[Example]]:
    """Raw examples of the given file splits from a local copy (`encoding`: the files' own, when they are
    not in the format's usual one)."""
    folder = task_dir(spec, Path(root))
    if spec.local_format == "ptb_pos":
        return read_pos(spec, folder, splits, encoding)
    if folder.is_file():
        raise at(folder, None, f"expected a directory with the {spec.display_name} files, got a file")
    reader = READERS[spec.local_format]
    return {
        split: _non_empty(reader(spec, file, encoding), file)
        for split in splits
        for file in [find_split_file(spec, folder, split)]
    }


def _non_empty(examples: list[Example], where: Path | str) -> list[Example]:
    if not examples:
        raise at(where, None, "no examples; expected a non-empty split")
    return examples


def _read_pos_file(spec: TaskSpec, file: Path, encoding: str | None) -> list[Example]:
    return read_mrg(spec, file, encoding) if file.suffix == ".mrg" else read_word_tag(spec, file, encoding)


def read_pos(
    spec: TaskSpec, path: Path, splits: tuple[str, ...], encoding: str | None = None
) -> dict[str, list[Example]]:
    """POS from split files, from WSJ section files (0-18/19-21/22-24), or one file split contiguously.

    Layouts, first match wins: `train.txt`/`dev.txt`/`test.txt` (word<TAB>TAG); files named
    `wsj_SSNN.mrg` (or `.pos`-style word<TAB>TAG) anywhere below `path`, whose section SS decides the
    split; `path` being a single file, or a folder holding one data file (notes such as README or
    *.md aside), which is cut in order into the proportions of the WSJ split.
    """
    if path.is_file():
        parts = _split_contiguous(_read_pos_file(spec, path, encoding), splits)
        return {split: _non_empty(examples, f"{path} ({split} part)") for split, examples in parts.items()}
    if all(any((path / name).is_file() for name in spec.files_for(split)) for split in splits):
        return {
            split: _non_empty(read_word_tag(spec, file, encoding), file)
            for split in splits
            for file in [find_split_file(spec, path, split)]
        }
    section_files = sorted(p for p in path.rglob("wsj_*") if p.is_file() and WSJ_FILE.match(p.name))
    data_files = [p for p in path.iterdir() if p.is_file() and not _is_note(p)]
    if not section_files and len(data_files) == 1:
        return read_pos(spec, data_files[0], splits, encoding)
    if not section_files:
        raise at(
            path,
            None,
            "no POS data; expected train.txt/dev.txt/test.txt (word<TAB>TAG), "
            "WSJ section files wsj_SSNN.mrg, or a single word<TAB>TAG file",
        )
    result: dict[str, list[Example]] = {}
    for split in splits:
        files = [f for f in section_files if int(WSJ_FILE.match(f.name).group(1)) in WSJ_SECTIONS[split]]
        examples = [example for f in files for example in _read_pos_file(spec, f, encoding)]
        first, last = WSJ_SECTIONS[split][0], WSJ_SECTIONS[split][-1]
        result[split] = _non_empty(examples, f"{path} (WSJ sections {first:02d}-{last:02d} for {split})")
    return result


def _is_note(file: Path) -> bool:
    """Files beside the data that are not data: hidden files, READMEs, licences, Markdown."""
    name = file.name.lower()
    return name.startswith((".", "readme", "license", "licence")) or name.endswith(".md")


def _split_contiguous(examples: list[Example], splits: tuple[str, ...]) -> dict[str, list[Example]]:
    """Cut one ordered corpus into train/dev/test in the WSJ split's sentence proportions, in order."""
    total = sum(WSJ_SPLIT_SENTENCES.values())
    n_train = round(len(examples) * WSJ_SPLIT_SENTENCES["train"] / total)
    n_dev = round(len(examples) * WSJ_SPLIT_SENTENCES["dev"] / total)
    parts = {
        "train": examples[:n_train],
        "dev": examples[n_train : n_train + n_dev],
        "test": examples[n_train + n_dev :],
    }
    return {split: parts[split] for split in splits}
