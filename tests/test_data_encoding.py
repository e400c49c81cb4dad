"""Tokenization: last-wordpiece alignment on hand-checked sentences, truncation counts, collation."""

from __future__ import annotations

import pytest
import torch

from maskbert.data import collate, encode_split, get_task, load_tokenizer
from maskbert.data.encoding import IGNORE_INDEX, last_wordpiece_labels
from maskbert.pretrained import BUNDLED_MINILM

NER = get_task("ner")
TAG = {name: i for i, name in enumerate(NER.label_names)}


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(BUNDLED_MINILM, "tagging")


def test_last_wordpiece_alignment_hand_checked(tokenizer):
    example = {"tokens": ["Johanson", "plays", "unaffable", "football"], "tags": ["B-PER", "O", "O", "O"]}
    columns, truncation = encode_split(NER, [example], tokenizer, 128)
    pieces = tokenizer.convert_ids_to_tokens(columns["input_ids"][0])
    assert pieces == ["[CLS]", "johan", "##son", "plays", "una", "##ffa", "##ble", "football", "[SEP]"]
    assert columns["labels"][0] == [
        IGNORE_INDEX,
        IGNORE_INDEX,
        TAG["B-PER"],
        TAG["O"],
        IGNORE_INDEX,
        IGNORE_INDEX,
        TAG["O"],
        TAG["O"],
        IGNORE_INDEX,
    ]
    assert columns["word_labels"][0] == [TAG["B-PER"], TAG["O"], TAG["O"], TAG["O"]]
    assert truncation["examples_truncated"] == 0 and truncation["words_dropped"] == 0


def test_alignment_of_a_conll_sentence(tokenizer):
    example = {
        "tokens": ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
        "tags": ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"],
    }
    columns, _ = encode_split(NER, [example], tokenizer, 128)
    pieces = tokenizer.convert_ids_to_tokens(columns["input_ids"][0])
    labelled = [
        (piece, NER.label_names[label])
        for piece, label in zip(pieces, columns["labels"][0])
        if label != IGNORE_INDEX
    ]
    assert pieces[1:3] == ["eu", "rejects"]
    assert labelled[0] == ("eu", "B-ORG") and labelled[2] == ("german", "B-MISC")
    assert len(labelled) == len(example["tokens"])


@pytest.mark.parametrize(
    ("max_length", "kept_pieces", "dropped"),
    # [CLS] hello una ##ffa ##ble world again [SEP] is 8 pieces
    [(8, 8, 0), (6, 6, 2), (5, 5, 3)],  # at 5, "unaffable" loses ##ble and is dropped with the rest
)
def test_truncation_drops_whole_words_and_counts_them(tokenizer, max_length, kept_pieces, dropped):
    example = {"tokens": ["hello", "unaffable", "world", "again"], "tags": ["O", "B-LOC", "O", "B-PER"]}
    columns, truncation = encode_split(NER, [example], tokenizer, max_length)
    assert len(columns["input_ids"][0]) == kept_pieces
    assert columns["input_ids"][0][-1] == tokenizer.sep_token_id
    assert sum(label != IGNORE_INDEX for label in columns["labels"][0]) == 4 - dropped
    assert columns["word_labels"][0] == [TAG["O"], TAG["B-LOC"], TAG["O"], TAG["B-PER"]]
    assert truncation["examples_truncated"] == (dropped > 0)
    assert truncation["words_dropped"] == truncation["words_dropped_by_truncation"] == dropped
    assert truncation["words_kept"] == 4 - dropped
    assert columns["kept_words"][0] == list(range(4 - dropped))


def test_words_without_wordpieces_are_counted(tokenizer):
    columns, truncation = encode_split(
        NER, [{"tokens": ["a", "\u200b", "b"], "tags": ["O", "O", "O"]}], tokenizer, 128
    )
    assert truncation["words_without_wordpieces"] == 1 and truncation["words_dropped"] == 1
    assert len(columns["word_labels"][0]) == 3
    assert columns["kept_words"][0] == [0, 2]  # the word in the middle has no prediction to put back


def test_last_wordpiece_labels_unit():
    assert last_wordpiece_labels([None, 0, 0, 1, None], [5, 7]) == [-100, -100, 5, 7, -100]


def test_pairs_truncate_longest_first(tokenizer):
    spec = get_task("rte")
    long_text = " ".join(["word"] * 40)
    columns, truncation = encode_split(
        spec,
        [
            {"text_a": long_text, "text_b": "short one", "label": "entailment"},
            {"text_a": "a", "text_b": "b", "label": "not_entailment"},
        ],
        tokenizer,
        16,
    )
    first = columns["input_ids"][0]
    assert len(first) == 16 and first.count(tokenizer.sep_token_id) == 2
    assert tokenizer.decode(first).endswith("[SEP] short one [SEP]")
    assert columns["token_type_ids"][0][-3:] == [1, 1, 1]
    assert columns["labels"] == [0, 1]
    assert truncation == {
        "max_length": 16,
        "examples_truncated": 1,
        "wordpieces_dropped": 45 - 16,
        "longest": 45,
    }


def test_multiple_choice_encodes_context_and_start_plus_ending(tokenizer):
    spec = get_task("swag")
    example = {
        "context": "She opens the door.",
        "start": "He",
        "endings": ["runs.", "sits.", "eats.", "waits."],
        "label": "2",
    }
    columns, truncation = encode_split(spec, [example], tokenizer, 128)
    assert len(columns["input_ids"][0]) == 4
    assert tokenizer.decode(columns["input_ids"][0][1]) == "[CLS] she opens the door. [SEP] he sits. [SEP]"
    assert columns["labels"] == [2] and truncation["examples_truncated"] == 0


def test_collate_pads_to_the_longest_in_batch():
    rows = [
        {
            "input_ids": [101, 5, 102],
            "attention_mask": [1, 1, 1],
            "token_type_ids": [0, 0, 0],
            "labels": [-100, 3, -100],
            "word_labels": [3],
        },
        {
            "input_ids": [101, 102],
            "attention_mask": [1, 1],
            "token_type_ids": [0, 0],
            "labels": [-100, -100],
            "word_labels": [],
        },
    ]
    batch = collate(rows, pad_token_id=0)
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "labels"}
    assert batch["input_ids"].tolist() == [[101, 5, 102], [101, 102, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [[-100, 3, -100], [-100, -100, -100]]
    assert all(t.dtype == torch.long for t in batch.values())
    single = collate(
        [
            {"input_ids": [1, 2], "attention_mask": [1, 1], "labels": 1},
            {"input_ids": [1], "attention_mask": [1], "labels": 0},
        ],
        pad_token_id=9,
    )
    assert single["input_ids"].tolist() == [[1, 2], [1, 9]] and single["labels"].tolist() == [1, 0]


def test_collate_multiple_choice_shape():
    row = {
        "input_ids": [[1, 2, 3], [1, 2], [1], [1, 2]],
        "attention_mask": [[1, 1, 1], [1, 1], [1], [1, 1]],
        "labels": 1,
    }
    batch = collate([row, {**row, "input_ids": [[1]] * 4, "attention_mask": [[1]] * 4, "labels": 3}], 0)
    assert batch["input_ids"].shape == (2, 4, 3)
    assert batch["input_ids"][0, 1].tolist() == [1, 2, 0] and batch["labels"].tolist() == [1, 3]


def test_byte_level_bpe_gets_prefix_space_for_words(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import RobertaTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(["the cat sat on the mat", "unaffable football"] * 50, trainer)
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    RobertaTokenizerFast(tokenizer_object=bpe, add_prefix_space=False).save_pretrained(tmp_path)
    tokenizer = load_tokenizer(str(tmp_path), "tagging")
    example = {"tokens": ["the", "unaffable", "cat"], "tags": ["O", "B-PER", "O"]}
    columns, _ = encode_split(NER, [example], tokenizer, 128)
    pieces = tokenizer.convert_ids_to_tokens(columns["input_ids"][0])
    assert pieces[1].startswith("Ġ") and pieces[0] == "<s>"
    labelled = [pieces[i] for i, label in enumerate(columns["labels"][0]) if label != IGNORE_INDEX]
    assert len(labelled) == 3 and labelled[-1].endswith("cat")
