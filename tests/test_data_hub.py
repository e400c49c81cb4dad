"""The hub source through the real `datasets.load_dataset`, without a network.

The hub's Parquet export branch (`refs/convert/parquet`, what `trec` and `ner` load) is a tree of
`{config}/{split}/0000.parquet` files whose schema carries the features; a script repository holds a
`{name}.py`. Both are laid out here as local folders, which `load_dataset` reads through the same
packaged Parquet builder, split-name inference and script refusal as a hub repository.
"""

from __future__ import annotations

import argparse
import dataclasses

import datasets
import pytest

from maskbert.data import TASKS, read_splits
from maskbert.data.cli import add_data_parser, run_data
from maskbert.data.errors import DataError
from maskbert.data.tasks import CONLL_TAGS, PARQUET_EXPORT

TREC_LABELS = ["ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"]


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """No network, and the loader's Arrow cache under tmp_path instead of ~/.cache."""
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


def trec_table(n: int, names=TREC_LABELS) -> datasets.Dataset:
    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "coarse_label": datasets.ClassLabel(names=names),
            "fine_label": datasets.Value("int64"),
        }
    )
    rows = {
        "text": [f"What is question {i} ?" for i in range(n)],
        "coarse_label": [i % 6 for i in range(n)],
        "fine_label": [0] * n,
    }
    return datasets.Dataset.from_dict(rows, features=features)


def export_branch(root, config: str, tables: dict[str, datasets.Dataset]):
    """A folder laid out as the hub's Parquet export: `{config}/{split}/0000.parquet`."""
    for split, table in tables.items():
        (root / config / split).mkdir(parents=True)
        table.to_parquet(root / config / split / "0000.parquet")
    return root


def from_folder(task: str, folder, revision=PARQUET_EXPORT):
    """The registry's spec of `task`, its hub id replaced by a local folder."""
    return dataclasses.replace(TASKS[task], hub_id=str(folder), hub_revision=revision)


def test_trec_and_ner_load_from_the_parquet_export_not_a_script_branch():
    for task in ("trec", "ner"):
        assert TASKS[task].hub_revision == PARQUET_EXPORT and TASKS[task].hub_config is None
    # every other hub task's main branch holds data files that datasets 5 reads
    assert all(
        TASKS[name].hub_revision is None
        for name in TASKS
        if "hub" in TASKS[name].sources and name not in ("trec", "ner")
    )


def test_trec_from_an_export_branch_through_the_real_loader(tmp_path):
    folder = export_branch(tmp_path / "trec", "default", {"train": trec_table(600), "test": trec_table(7)})
    splits = read_splits(from_folder("trec", folder), "hub")
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [52, 548, 7]
    assert splits["test"][3] == {"text": "What is question 3 ?", "label": "HUM"}


def test_ner_from_an_export_branch_through_the_real_loader(tmp_path):
    tags = datasets.ClassLabel(names=list(CONLL_TAGS))
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.List(datasets.Value("string")),
            "ner_tags": datasets.List(tags),
        }
    )
    table = datasets.Dataset.from_dict(
        {
            "id": ["0", "1"],
            "tokens": [["EU", "rejects"], ["Peter", "Blackburn"]],
            "ner_tags": [[3, 0], [1, 2]],
        },
        features=features,
    )
    folder = export_branch(
        tmp_path / "conll2003", "conll2003", {"train": table, "validation": table, "test": table}
    )
    splits = read_splits(from_folder("ner", folder), "hub")
    assert splits["dev"] == [
        {"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]},
        {"tokens": ["Peter", "Blackburn"], "tags": ["B-PER", "I-PER"]},
    ]


def test_label_names_from_the_parquet_schema_must_be_the_registrys(tmp_path):
    shuffled = ["ENTY", "ABBR", "DESC", "HUM", "LOC", "NUM"]
    folder = export_branch(tmp_path / "trec", "default", {"test": trec_table(3, shuffled)})
    with pytest.raises(DataError) as caught:
        read_splits(from_folder("trec", folder), "hub", splits=("test",))
    assert str(caught.value) == (
        f"{folder}@refs/convert/parquet[test]: label names ENTY, ABBR, DESC, HUM, LOC, NUM in column "
        "'coarse_label'; expected the registry's ABBR, ENTY, DESC, HUM, LOC, NUM (in that order)"
    )


def test_a_script_repository_stops_with_one_line_naming_the_local_alternative(tmp_path):
    # what CogComp/trec's main branch holds: the script, here with Parquet files beside it
    folder = export_branch(tmp_path / "trec", "default", {"train": trec_table(600), "test": trec_table(7)})
    (folder / "trec.py").write_text("import datasets\n")
    with pytest.raises(DataError) as caught:
        read_splits(from_folder("trec", folder, revision=None), "hub")
    assert str(caught.value) == (
        f"task 'trec': hub dataset {folder} at revision main did not load (RuntimeError: Dataset scripts "
        "are no longer supported, but found trec.py); use --source local --path DIR with train: "
        "train_5500.label; test: TREC_10.label in DIR/trec (or DIR itself)"
    )


def test_an_unreachable_dataset_stops_with_one_line(tmp_path):
    spec = dataclasses.replace(TASKS["ner"], hub_id="nobody/no-such-conll")
    with pytest.raises(DataError) as caught:
        read_splits(spec, "hub", splits=("test",))
    message = str(caught.value)
    assert message.startswith(
        "task 'ner': hub dataset nobody/no-such-conll at revision refs/convert/parquet did not load ("
    )
    assert message.endswith(
        "use --source local --path DIR with train: train.txt or eng.train; dev: valid.txt or dev.txt or "
        "eng.testa; test: test.txt or eng.testb in DIR/conll2003 (or DIR itself)"
    )
    assert "\n" not in message


def test_the_data_command_prints_that_line_and_no_traceback(tmp_path, monkeypatch, capsys):
    folder = export_branch(tmp_path / "trec", "default", {"test": trec_table(3)})
    (folder / "trec.py").write_text("import datasets\n")
    monkeypatch.setitem(TASKS, "trec", from_folder("trec", folder, revision=None))
    parser = argparse.ArgumentParser(prog="maskbert")
    add_data_parser(parser.add_subparsers())
    capsys.readouterr()  # the Parquet writer's progress bar
    assert run_data(parser.parse_args(["data", "trec", "--splits", "test"])) == 2
    err = capsys.readouterr().err
    assert err.startswith("maskbert data: error: task 'trec': hub dataset ") and err.count("\n") == 1
    assert "found trec.py" in err and "Traceback" not in err
