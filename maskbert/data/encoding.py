"""Tokenization of raw examples into model-ready columns, truncation accounting, and batch collation.

Sequences are encoded untruncated first so that what truncation drops can be counted (App. A); only the
examples over `max_length` are encoded again with truncation (pairs: longest first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..pretrained import resolve_model_path
from .errors import DataError
from .tasks import TaskSpec

IGNORE_INDEX = -100
ENCODED_KEYS = ("input_ids", "attention_mask", "token_type_ids")

if TYPE_CHECKING:
    import torch


def load_tokenizer(model: str, kind: str):
    """The model's fast tokenizer; byte-level BPE (RoBERTa) gets `add_prefix_space` for pre-split words."""
    from transformers import AutoTokenizer

    path = resolve_model_path(model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if kind == "tagging" and getattr(tokenizer, "add_prefix_space", None) is False:
        tokenizer = AutoTokenizer.from_pretrained(path, add_prefix_space=True)
    if not tokenizer.is_fast:
        raise ValueError(f"model '{model}': a fast tokenizer is needed (word alignment uses word_ids())")
    return tokenizer


def _encode_texts(tokenizer, first: list[str], second: list[str] | None, max_length: int):
    """Encode (pairs of) texts to at most max_length; returns columns and the untruncated lengths."""
    full = tokenizer(first, second, truncation=False, verbose=False)
    lengths = [len(ids) for ids in full["input_ids"]]
    columns = {key: list(full[key]) for key in ENCODED_KEYS if key in full}
    over = [i for i, length in enumerate(lengths) if length > max_length]
    if over:
        cut = tokenizer(
            [first[i] for i in over],
            [second[i] for i in over] if second else None,
            truncation="longest_first",
            max_length=max_length,
        )
        for key, values in columns.items():
            for j, i in enumerate(over):
                values[i] = cut[key][j]
    return columns, lengths


def _sequence_truncation(lengths: list[int], max_length: int) -> dict:
    over = [length for length in lengths if length > max_length]
    return {
        "max_length": max_length,
        "examples_truncated": len(over),
        "wordpieces_dropped": sum(length - max_length for length in over),
        "longest": max(lengths, default=0),
    }


def encode_classification(spec: TaskSpec, examples: list[dict], tokenizer, max_length: int):
    label_ids = {name: i for i, name in enumerate(spec.label_names)}
    if spec.kind == "single":
        columns, lengths = _encode_texts(tokenizer, [ex["text"] for ex in examples], None, max_length)
    else:
        columns, lengths = _encode_texts(
            tokenizer, [ex["text_a"] for ex in examples], [ex["text_b"] for ex in examples], max_length
        )
    columns["labels"] = [label_ids[ex["label"]] for ex in examples]
    return columns, _sequence_truncation(lengths, max_length)


def encode_multiple_choice(spec: TaskSpec, examples: list[dict], tokenizer, max_length: int):
    """Each choice as the pair (context, start phrase + ending), as in the HF SWAG example."""
    n_choices = spec.num_choices
    contexts = [ex["context"] for ex in examples for _ in range(n_choices)]
    endings = [f"{ex['start']} {ending}".strip() for ex in examples for ending in ex["endings"]]
    flat, lengths = _encode_texts(tokenizer, contexts, endings, max_length)
    columns = {
        key: [values[i : i + n_choices] for i in range(0, len(values), n_choices)]
        for key, values in flat.items()
    }
    columns["labels"] = [spec.label_names.index(ex["label"]) for ex in examples]
    per_example = [max(lengths[i : i + n_choices]) for i in range(0, len(lengths), n_choices)]
    return columns, _sequence_truncation(per_example, max_length)


def last_wordpiece_positions(word_ids: list[int | None]) -> dict[int, int]:
    """Each word's last wordpiece: where a tagging head reads the word (training, evaluation and serving)."""
    return {word: position for position, word in enumerate(word_ids) if word is not None}


def last_wordpiece_labels(word_ids: list[int | None], tag_ids: list[int]) -> list[int]:
    """Each word's tag on its last wordpiece, IGNORE_INDEX on specials and non-final pieces."""
    labels = [IGNORE_INDEX] * len(word_ids)
    for word, position in last_wordpiece_positions(word_ids).items():
        labels[position] = tag_ids[word]
    return labels


def kept_word_indices(labels: list[int], word_ids: list[int | None]) -> list[int]:
    """Indices of the words that kept a label, in order: evaluation puts each prediction back on its word."""
    return [word for label, word in zip(labels, word_ids) if label != IGNORE_INDEX]


def _labelled(labels: list[int]) -> int:
    return sum(label != IGNORE_INDEX for label in labels)


def encode_tagging(spec: TaskSpec, examples: list[dict], tokenizer, max_length: int):
    """Per-wordpiece labels (last wordpiece of each word) and every gold word's tag in `word_labels`.

    A word is kept only when all its wordpieces fit in the first max_length - specials positions; a
    word cut by truncation, or one that tokenizes to nothing, keeps no label and counts as dropped.
    """
    tag_ids = {name: i for i, name in enumerate(spec.label_names)}
    word_labels = [[tag_ids[tag] for tag in ex["tags"]] for ex in examples]
    words = [ex["tokens"] for ex in examples]
    full = tokenizer(words, is_split_into_words=True, truncation=False, verbose=False)
    columns = {key: list(full[key]) for key in ENCODED_KEYS if key in full}
    labels = [last_wordpiece_labels(full.word_ids(i), word_labels[i]) for i in range(len(examples))]
    untokenizable = sum(len(tags) - _labelled(row) for tags, row in zip(word_labels, labels))
    lengths = [len(ids) for ids in columns["input_ids"]]
    over = [i for i, length in enumerate(lengths) if length > max_length]
    if over:
        cut = tokenizer(
            [words[i] for i in over], is_split_into_words=True, truncation=True, max_length=max_length
        )
        for j, i in enumerate(over):
            for key, values in columns.items():
                values[i] = cut[key][j]
            # the kept prefix is identical; positions that became specials lose their label
            labels[i] = [
                label if word is not None else IGNORE_INDEX for label, word in zip(labels[i], cut.word_ids(j))
            ]
    columns["labels"] = labels
    columns["word_labels"] = word_labels
    columns["kept_words"] = [kept_word_indices(row, full.word_ids(i)) for i, row in enumerate(labels)]
    dropped = sum(len(tags) for tags in word_labels) - sum(_labelled(row) for row in labels)
    truncation = {
        **_sequence_truncation(lengths, max_length),
        "words_kept": sum(_labelled(row) for row in labels),
        "words_dropped": dropped,
        "words_dropped_by_truncation": dropped - untokenizable,
        "words_without_wordpieces": untokenizable,
    }
    return columns, truncation


def check_max_length_fits(spec: TaskSpec, tokenizer, max_length: int) -> None:
    """Refuse a max_length that cannot hold one wordpiece beside the special tokens: the tokenizer cannot
    truncate below them, so such a limit would be silently exceeded."""
    pair = spec.kind in ("pair", "multiple_choice")
    least = tokenizer.num_special_tokens_to_add(pair=pair) + 1
    if max_length < least:
        raise DataError(
            f"--max-length {max_length}: too small for task '{spec.name}'; the special tokens alone take "
            f"{least - 1} wordpieces{' per pair' if pair else ''}, so expected at least {least}"
        )


def encode_split(spec: TaskSpec, examples: list[dict], tokenizer, max_length: int = 128):
    """Model-ready columns of one split and its truncation counts."""
    check_max_length_fits(spec, tokenizer, max_length)
    if spec.kind == "tagging":
        return encode_tagging(spec, examples, tokenizer, max_length)
    if spec.kind == "multiple_choice":
        return encode_multiple_choice(spec, examples, tokenizer, max_length)
    return encode_classification(spec, examples, tokenizer, max_length)


def _pad(sequences: list[list[int]], length: int, value: int) -> list[list[int]]:
    return [list(seq) + [value] * (length - len(seq)) for seq in sequences]


def collate(rows: list[dict], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest sequence: input_ids with the pad id, masks and types with 0, tag labels
    with -100. Multiple choice rows give [batch, choices, longest]; other columns are left out."""
    import torch  # here, not at module level: the workflow imports the task registry without needing torch

    pad_values = {"input_ids": pad_token_id, "attention_mask": 0, "token_type_ids": 0}
    keys = [key for key in ENCODED_KEYS if key in rows[0]]
    multiple_choice = bool(rows[0]["input_ids"]) and isinstance(rows[0]["input_ids"][0], list)
    if multiple_choice:
        longest = max(len(choice) for row in rows for choice in row["input_ids"])
        batch = {
            key: torch.tensor([_pad(row[key], longest, pad_values[key]) for row in rows], dtype=torch.long)
            for key in keys
        }
    else:
        longest = max(len(row["input_ids"]) for row in rows)
        batch = {
            key: torch.tensor(_pad([row[key] for row in rows], longest, pad_values[key]), dtype=torch.long)
            for key in keys
        }
    labels = [row["labels"] for row in rows]
    if isinstance(labels[0], list):
        batch["labels"] = torch.tensor(_pad(labels, longest, IGNORE_INDEX), dtype=torch.long)
    else:
        batch["labels"] = torch.tensor(labels, dtype=torch.long)
    return batch
