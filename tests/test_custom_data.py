"""A user's own data files as tasks: conventions, named columns, one-line errors, and a full train/evaluate/load."""

import json

import pytest

from maskbert.data import get_task, load_prepared, prepare, read_splits
from maskbert.data.custom import custom_task_name, task_argument
from maskbert.data.errors import DataError

WORDS = {"pos": ["great", "lovely", "superb", "fun"], "neg": ["awful", "dull", "bad", "boring"]}


def _sentences(count, labels=("pos", "neg")):
    for i in range(count):
        label = labels[i % len(labels)]
        yield f"the film was {WORDS[label][i % 4]} and {WORDS[label][(i + 1) % 4]}", label


def _write_csv(path, rows, header="text,label", delimiter=","):
    lines = [header] + [delimiter.join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_single_csv_file_by_convention_with_dev_held_out(tmp_path):
    file = _write_csv(
        tmp_path / "reviews.csv", [(text, "10" if label == "pos" else "9") for text, label in _sentences(40)]
    )
    spec = get_task(str(file))
    assert spec.kind == "single" and spec.label_names == ("9", "10")  # numeric order, not "10" < "9"
    assert spec.splits == ("train", "dev") and spec.reported_split == "dev"
    raw = read_splits(str(file), "hub")
    assert len(raw["train"]) == 36 and len(raw["dev"]) == 4
    assert set(raw["train"][0]) == {"text", "label"}


def test_folder_of_tsv_pair_files_with_named_columns(tmp_path):
    rows = [(a, a[::-1], label) for a, label in _sentences(12)]
    for split in ("train", "dev", "test"):
        _write_csv(tmp_path / f"{split}.tsv", rows, header="premise_text\tother\tgold", delimiter="\t")
    name = custom_task_name(tmp_path, text="premise_text", text_pair="other", label="gold")
    spec = get_task(name)
    assert spec.kind == "pair" and spec.label_names == ("neg", "pos") and spec.reported_split == "test"
    raw = read_splits(name, "local")
    assert raw["test"][0] == {"text_a": rows[0][0], "text_b": rows[0][1], "label": "pos"}


def test_jsonl_with_integer_labels(tmp_path):
    file = tmp_path / "train.jsonl"
    file.write_text(
        "".join(
            json.dumps({"sentence": t, "category": 1 if label == "pos" else 0}) + "\n"
            for t, label in _sentences(20)
        )
    )
    assert get_task(str(file)).label_names == ("0", "1")


@pytest.mark.parametrize(
    "content,message",
    [
        ("words,label\na b,pos\n", r"data.csv:1: no text column: expected one of text, sentence"),
        ("text,label\na b,pos\nc d,\n", r"data.csv:3: empty label in column 'label'"),
        ("text,label\na b,pos\nc d\n", r"data.csv:3: 1 fields, expected 2 as in the header \(text, label\)"),
    ],
)
def test_csv_errors_name_file_and_line(tmp_path, content, message):
    (tmp_path / "data.csv").write_text(content)
    with pytest.raises(DataError, match=message):
        get_task(str(tmp_path / "data.csv"))


def test_dev_label_unseen_in_train_and_bad_json_name_file_and_line(tmp_path):
    _write_csv(tmp_path / "train.csv", [("a b", "pos"), ("c d", "neg")])
    _write_csv(tmp_path / "dev.csv", [("a b", "pos"), ("e f", "neutral")])
    with pytest.raises(DataError, match=r"dev.csv:3: label 'neutral' does not occur in train"):
        get_task(str(tmp_path))
    (tmp_path / "bad.jsonl").write_text('{"text": "a", "label": "x"}\n{"text": "b", "label"\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: not valid JSON"):
        get_task(str(tmp_path / "bad.jsonl"))
    with pytest.raises(DataError, match=r"label column 'stars' not found"):
        get_task(custom_task_name(tmp_path / "train.csv", label="stars"))


def test_task_argument_makes_paths_absolute_and_refuses_flags_on_registry_tasks(tmp_path, monkeypatch):
    _write_csv(tmp_path / "d.csv", [("a b", "pos")])
    monkeypatch.chdir(tmp_path)
    assert task_argument("d.csv", label="label") == f"{tmp_path / 'd.csv'}:label=label"
    assert task_argument("trec") == "trec"
    with pytest.raises(DataError, match="column flags apply to a data file"):
        task_argument("trec", text="x")


def test_prepare_goes_through_the_tokenization_cache(tmp_path, tiny_bert_with_tokenizer):
    file = _write_csv(tmp_path / "reviews.csv", list(_sentences(30)))
    out = prepare(str(file), tiny_bert_with_tokenizer, cache_root=tmp_path / "cache")
    assert out.parent.parent == tmp_path / "cache" and out.name.startswith("reviews-")
    prepared = load_prepared(out)
    assert prepared.task.name == str(file) and len(prepared.splits["train"]) == 27
    assert prepare(str(file), tiny_bert_with_tokenizer, cache_root=tmp_path / "cache") == out


def test_train_evaluate_and_load_a_custom_task_end_to_end(tmp_path, tiny_bert_with_tokenizer, monkeypatch):
    from maskbert.adapter import load_masked
    from maskbert.cli import main
    from maskbert.evaluation import evaluate_run
    from maskbert.serving import MaskServer

    monkeypatch.setenv("MASKBERT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "data").mkdir()
    for split, count in (("train", 48), ("dev", 12), ("test", 12)):
        _write_csv(tmp_path / "data" / f"{split}.csv", list(_sentences(count)), header="review,stars")
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--model",
                tiny_bert_with_tokenizer,
                "--task",
                str(tmp_path / "data"),
                "--text-column",
                "review",
                "--label-column",
                "stars",
                "--method",
                "masking",
                "--seed",
                "1",
                "--lr",
                "1e-3",
                "--epochs",
                "1",
                "--batch-size",
                "8",
                "--out",
                str(run),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    record = json.loads((run / "run.json").read_text())
    assert record["task"] == f"{tmp_path / 'data'}:text=review,label=stars" and record["label_names"] == [
        "neg",
        "pos",
    ]
    result = evaluate_run(run, "test", device="cpu")
    assert result["examples"] == 12 and 0 <= result["score"] <= 100
    model = load_masked(run)
    assert model.maskbert.task.label_names == ("neg", "pos") and model.config.id2label[1] == "pos"
    server = MaskServer()
    assert server.add(run) == "data"  # a custom task is served under its file or folder name
    answer = server.predict([{"task": "data", "text": "the film was dull and bad"}])[0]
    assert answer["label"] in ("neg", "pos") and set(answer["probabilities"]) == {"neg", "pos"}
