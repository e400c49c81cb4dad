"""prepare/load_prepared: atomic writes, reuse without tokenizing, invalidation, hub injection."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from maskbert.data import DataError, cache, collate, load_prepared, prepare, read_splits
from maskbert.pretrained import BUNDLED_MINILM


def test_prepare_writes_splits_meta_and_stats(tmp_path):
    out = prepare("synth-ner", BUNDLED_MINILM, source="synthetic", cache_root=tmp_path)
    assert out == tmp_path / "sentence-transformers--all-MiniLM-L6-v2" / "synth-ner-synthetic"
    prep = load_prepared(out)
    assert prep.task.name == "synth-ner" and prep.tokenizer_name == BUNDLED_MINILM and prep.pad_token_id == 0
    assert {split: len(ds) for split, ds in prep.splits.items()} == {"train": 600, "dev": 200, "test": 200}
    row = prep.splits["train"][0]
    assert set(row) == {
        "input_ids",
        "attention_mask",
        "token_type_ids",
        "labels",
        "word_labels",
        "kept_words",
    }
    assert isinstance(row["input_ids"], list)
    assert prep.stats["splits"]["test"]["truncation"]["words_dropped"] == 0
    assert prep.meta["max_length"] == 128 and prep.meta["complete"]
    batch = collate([prep.splits["train"][i] for i in range(4)], prep.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_second_prepare_does_no_tokenization(tmp_path, monkeypatch):
    first = prepare("synth-sentiment", BUNDLED_MINILM, source="synthetic", cache_root=tmp_path)
    stamp = (first / "meta.json").stat().st_mtime_ns

    def must_not_run(*args, **kwargs):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(cache, "encode_split", must_not_run)
    assert prepare("synth-sentiment", BUNDLED_MINILM, source="synthetic", cache_root=tmp_path) == first
    assert (first / "meta.json").stat().st_mtime_ns == stamp


def test_changed_settings_or_data_rebuild(tmp_path, monkeypatch):
    out = tmp_path / "prepared"
    prepare("synth-sentiment", BUNDLED_MINILM, source="synthetic", out_dir=out)
    fingerprint = json.loads((out / "meta.json").read_text())["fingerprint"]
    prepare("synth-sentiment", BUNDLED_MINILM, source="synthetic", out_dir=out, max_length=16)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["max_length"] == 16 and meta["fingerprint"] != fingerprint
    assert max(len(ids) for ids in load_prepared(out).splits["train"]["input_ids"]) <= 16
    seeded = prepare("synth-sentiment", BUNDLED_MINILM, source="synthetic", cache_root=tmp_path, seed=7)
    assert seeded.name == "synth-sentiment-synthetic-seed7"


def test_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    def half_written(self, path, **kwargs):
        Path(path).mkdir()
        (Path(path) / "data-00000-of-00001.arrow").write_text("partial")
        raise OSError("disk full")

    monkeypatch.setattr(datasets.DatasetDict, "save_to_disk", half_written)
    with pytest.raises(OSError, match="disk full"):
        prepare("synth-sentiment", BUNDLED_MINILM, source="synthetic", out_dir=tmp_path / "out" / "prepared")
    assert list((tmp_path / "out").iterdir()) == []


def test_load_prepared_refuses_an_incomplete_directory(tmp_path):
    with pytest.raises(DataError, match="meta.json: missing or incomplete"):
        load_prepared(tmp_path)


def test_unknown_task_and_unsupported_source():
    with pytest.raises(ValueError, match="unknown task 'sst-3'; expected one of: mrpc, sst2"):
        prepare("sst-3", BUNDLED_MINILM)
    with pytest.raises(ValueError, match="task 'synth-ner' has no source 'hub'; expected one of: synthetic"):
        read_splits("synth-ner", "hub")
    with pytest.raises(ValueError, match="task 'sem' has no source 'hub'"):
        read_splits("sem", "hub")
    with pytest.raises(ValueError, match="task 'mrpc' has no split 'test'"):
        read_splits("mrpc", "local", ".", splits=("test",))


class FakeHub:
    """Stands in for datasets.load_dataset: returns local Datasets and records the calls."""

    def __init__(self, tables):
        self.tables, self.calls = tables, []

    def __call__(self, path, name=None, *, split, revision=None):
        self.calls.append((path, name, split, revision))
        return self.tables[split]


def trec_table(n):
    names = ["ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"]
    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "coarse_label": datasets.ClassLabel(names=names),
            "fine_label": datasets.Value("int64"),
        }
    )
    return datasets.Dataset.from_dict(
        {
            "text": [f"What is {i} ?" for i in range(n)],
            "coarse_label": [i % 6 for i in range(n)],
            "fine_label": [0] * n,
        },
        features=features,
    )


def test_hub_source_through_injected_dataset(tmp_path):
    hub = FakeHub({"train": trec_table(600), "test": trec_table(5)})
    splits = read_splits("trec", "hub", load_dataset=hub)
    export = "refs/convert/parquet"
    assert hub.calls == [("CogComp/trec", None, "train", export), ("CogComp/trec", None, "test", export)]
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [52, 548, 5]
    assert splits["test"][1] == {"text": "What is 1 ?", "label": "ENTY"}
    out = prepare("trec", BUNDLED_MINILM, source="hub", cache_root=tmp_path, load_dataset=hub)
    assert load_prepared(out).stats["splits"]["dev"]["examples"] == 548


def test_hub_default_is_datasets_load_dataset(monkeypatch):
    tags = datasets.ClassLabel(
        names=["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    )
    table = datasets.Dataset.from_dict(
        {"tokens": [["Peter", "Blackburn"]], "ner_tags": [[1, 2]]},
        features=datasets.Features(
            {"tokens": datasets.List(datasets.Value("string")), "ner_tags": datasets.List(tags)}
        ),
    )
    hub = FakeHub({"train": table, "validation": table, "test": table})
    monkeypatch.setattr(datasets, "load_dataset", hub)
    splits = read_splits("ner", "hub")
    assert splits["dev"] == [{"tokens": ["Peter", "Blackburn"], "tags": ["B-PER", "I-PER"]}]
    assert hub.calls[1] == ("eriktks/conll2003", None, "validation", "refs/convert/parquet")


def test_hub_glue_and_swag_rows(monkeypatch):
    glue = datasets.Dataset.from_dict(
        {"sentence1": ["A."], "sentence2": ["B."], "label": [1], "idx": [0]},
        features=datasets.Features(
            {
                "sentence1": datasets.Value("string"),
                "sentence2": datasets.Value("string"),
                "label": datasets.ClassLabel(names=["not_equivalent", "equivalent"]),
                "idx": datasets.Value("int32"),
            }
        ),
    )
    hub = FakeHub({"train": glue, "validation": glue})
    assert read_splits("mrpc", "hub", load_dataset=hub)["dev"] == [
        {"text_a": "A.", "text_b": "B.", "label": "equivalent"}
    ]
    assert hub.calls[0] == ("nyu-mll/glue", "mrpc", "train", None)
    swag = [
        {
            "sent1": "She sits.",
            "sent2": "",
            "ending0": "a",
            "ending1": "b",
            "ending2": "c",
            "ending3": "d",
            "label": 3,
        }
    ]
    assert read_splits("swag", "hub", load_dataset=FakeHub({"train": swag, "validation": swag}))["dev"] == [
        {"context": "She sits.", "start": "", "endings": ["a", "b", "c", "d"], "label": "3"}
    ]


def test_hub_bad_rows_name_dataset_split_and_row():
    unlabelled = [{"sentence": "fine", "label": -1}]
    with pytest.raises(DataError, match=r"nyu-mll/glue/sst2\[validation\] row 0: unknown label '<-1>'"):
        read_splits(
            "sst2",
            "hub",
            load_dataset=FakeHub({"train": unlabelled, "validation": unlabelled}),
            splits=("dev",),
        )
    with pytest.raises(DataError, match=r"nyu-mll/glue/sst2\[train\]: no examples"):
        read_splits("sst2", "hub", load_dataset=FakeHub({"train": []}), splits=("train",))
    with pytest.raises(DataError, match=r"\[train\] row 0: missing columns \['sentence'\]"):
        read_splits(
            "sst2", "hub", load_dataset=FakeHub({"train": [{"text": "x", "label": 0}]}), splits=("train",)
        )
