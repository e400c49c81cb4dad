"""The task registry, the synthetic tasks and the `data` command."""

from __future__ import annotations

import argparse

import pytest

from maskbert.data import TASKS, get_task, read_splits
from maskbert.data.cli import add_data_parser, run_data
from maskbert.pretrained import BUNDLED_MINILM

PAPER = ("mrpc", "sst2", "cola", "rte", "qnli", "sem", "trec", "ag", "pos", "ner", "swag", "imdb")


def test_registry_covers_the_paper_and_synthetic_tasks():
    assert set(TASKS) == {*PAPER, "synth-sentiment", "synth-ner", "synth-tweets"}
    assert [TASKS[t].display_name for t in PAPER] == [
        "MRPC",
        "SST2",
        "CoLA",
        "RTE",
        "QNLI",
        "SEM",
        "TREC",
        "AG",
        "POS",
        "NER",
        "SWAG",
        "IMDB",
    ]
    assert {t for t in PAPER if TASKS[t].reported_split == "test"} == {
        "sem",
        "trec",
        "ag",
        "pos",
        "ner",
        "imdb",
    }
    assert get_task("cola").metric == "mcc" and get_task("ner").metric == "ner_f1"
    assert get_task("pos").metric == "token_accuracy" and len(get_task("pos").label_names) == 45
    assert (get_task("trec").dev_from_train, get_task("ag").dev_from_train) == (548, 24_000)
    swag = get_task("swag")
    assert (swag.num_labels, swag.num_choices, swag.head_outputs) == (4, 4, 1)
    assert get_task("ag").num_labels == get_task("ag").head_outputs == 4
    for name in PAPER:
        assert "local" in TASKS[name].sources and "synthetic" not in TASKS[name].sources


def test_synthetic_specs():
    sentiment, ner = get_task("synth-sentiment"), get_task("synth-ner")
    assert (sentiment.kind, sentiment.num_labels, sentiment.metric) == ("single", 2, "accuracy")
    assert (ner.kind, ner.metric, ner.label_names[0]) == ("tagging", "ner_f1", "O")
    assert all(s.splits == ("train", "dev", "test") and s.reported_split == "test" for s in (sentiment, ner))
    assert sentiment.sources == ner.sources == ("synthetic",)


def test_unknown_task_names_the_known_ones():
    with pytest.raises(ValueError, match=r"^unknown task 'glue'; expected one of: mrpc, sst2, .*synth-ner$"):
        get_task("glue")


@pytest.mark.parametrize("task", ["synth-sentiment", "synth-ner"])
def test_synthetic_is_deterministic_per_seed(task):
    first = read_splits(task, "synthetic")
    assert first == read_splits(task, "synthetic")
    assert first != read_splits(task, "synthetic", seed=1)
    assert {split: len(v) for split, v in first.items()} == {"train": 600, "dev": 200, "test": 200}
    keys = [ex.get("text") or " ".join(ex["tokens"]) for split in first.values() for ex in split]
    assert len(keys) == len(set(keys)) and max(len(key.split()) for key in keys) <= 16


def test_synthetic_sentiment_has_balanced_labels_and_hard_cases():
    train = read_splits("synth-sentiment", "synthetic")["train"]
    positive = sum(ex["label"] == "positive" for ex in train)
    assert 0.4 < positive / len(train) < 0.6
    assert any(" not " in ex["text"] and ex["label"] == "positive" for ex in train)
    assert any(" but " in ex["text"] for ex in train)


def test_synthetic_ner_tags_are_bio_and_ambiguous_words_take_both_types():
    train = read_splits("synth-ner", "synthetic")["train"]
    types_of = {}
    for ex in train:
        assert len(ex["tokens"]) == len(ex["tags"])
        for previous, tag in zip(["O", *ex["tags"]], ex["tags"]):
            assert not tag.startswith("I-") or previous[2:] == tag[2:]
        for token, tag in zip(ex["tokens"], ex["tags"]):
            types_of.setdefault(token, set()).add(tag[2:] or "O")
    assert types_of["Jordan"] >= {"PER", "LOC"} or types_of["Georgia"] >= {"PER", "LOC"}
    assert {"O", "ORG"} <= types_of["apple"] | types_of["Apple"]


def run_cli(argv):
    parser = argparse.ArgumentParser(prog="maskbert")
    add_data_parser(parser.add_subparsers())
    return run_data(parser.parse_args(argv))


def test_cli_prints_sizes_labels_and_truncation(capsys):
    assert run_cli(["data", "synth-ner", "--model", BUNDLED_MINILM]) == 0
    out = capsys.readouterr().out
    assert "SynthNER (synth-ner, source synthetic)" in out and "words dropped" in out
    assert "train" in out and "B-PER" in out
    assert run_cli(["data", "synth-sentiment", "--seed", "3"]) == 0
    assert "positive" in capsys.readouterr().out


def test_cli_errors_are_one_line(capsys, tmp_path):
    assert run_cli(["data", "nope"]) == 2
    assert capsys.readouterr().err.strip() == (
        "maskbert data: error: unknown task 'nope'; expected one of: " + ", ".join(TASKS)
    )
    assert run_cli(["data", "mrpc", "--source", "local", "--path", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing: not found" in err and err.count("\n") == 1
