"""Own data is read exactly or refused with file, line and what was expected (issues 16 and 17)."""

import json

import pytest

from maskbert.data import get_task, read_splits
from maskbert.data.custom import custom_task_name, task_argument
from maskbert.data.errors import DataError

ROWS = [(f"text number {i} is {'good' if i % 2 else 'bad'}", "pos" if i % 2 else "neg") for i in range(30)]


def _csv(path, rows=ROWS, header="text,label", delimiter=","):
    path.write_text("\n".join([header, *(delimiter.join(row) for row in rows)]) + "\n")
    return str(path)


def _refused(name, pattern):
    with pytest.raises(DataError, match=pattern):
        get_task(name)


def test_an_unquoted_comma_is_refused_at_its_line(tmp_path):
    rows = list(ROWS)
    rows[5] = ("a fine film, honestly", "pos")
    _refused(
        _csv(tmp_path / "d.csv", rows), r"d.csv:7: 3 fields, expected 2 as in the header \(text, label\)"
    )


def test_a_quoted_comma_is_one_field(tmp_path):
    rows = list(ROWS)
    rows[5] = ('"a fine film, honestly"', "pos")
    train = read_splits(_csv(tmp_path / "d.csv", rows), "hub", splits=("train", "dev"))
    texts = [ex["text"] for split in train.values() for ex in split]
    assert "a fine film, honestly" in texts and len(texts) == 30


def test_duplicate_headers_are_refused(tmp_path):
    rows = [(text, label, "other") for text, label in ROWS]
    _refused(
        _csv(tmp_path / "d.csv", rows, header="text,label,text"), r"d.csv:1: column 'text' appears twice"
    )


def test_an_unbalanced_quote_in_a_tsv_is_reported_where_it_opens(tmp_path):
    rows = list(ROWS)
    rows[19] = ('"an open quote', "pos")
    rows[25] = ('he said "hi', "neg")
    name = _csv(tmp_path / "d.tsv", rows, header="text\tlabel", delimiter="\t")
    _refused(name, r"d.tsv:21: .*unbalanced '\"'")
    rows[25] = ROWS[25]  # the quote now stays open to the end of the file
    _refused(_csv(tmp_path / "e.tsv", rows, header="text\tlabel", delimiter="\t"), r"e.tsv:21: .*unbalanced")


def test_a_single_class_is_refused(tmp_path):
    _refused(_csv(tmp_path / "d.csv", [(t, "pos") for t, _ in ROWS]), r"d.csv: every example has label 'pos'")


@pytest.mark.parametrize("other", ["1.0", "01"])
def test_two_spellings_of_one_number_are_refused(tmp_path, other):
    rows = [(text, "1" if label == "pos" else "0") for text, label in ROWS]
    rows[9] = (rows[9][0], other)
    _refused(
        _csv(tmp_path / "d.csv", rows), rf"d.csv:11: label '{other}' is the number of label '1' \(.*d.csv:3\)"
    )


@pytest.mark.parametrize(
    "value,message",
    [
        (["a", "list"], r"d.jsonl:4: text in column 'text' is a list; expected a string"),
        ({"a": 1}, r"d.jsonl:4: text in column 'text' is an object"),
        (7, r"d.jsonl:4: text in column 'text' is a number"),
    ],
)
def test_jsonl_texts_must_be_strings(tmp_path, value, message):
    lines = [{"text": text, "label": label} for text, label in ROWS]
    lines[3]["text"] = value
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    _refused(str(tmp_path / "d.jsonl"), message)


def test_jsonl_labels_may_be_numbers_but_not_lists_or_booleans(tmp_path):
    lines = [{"text": text, "label": int(label == "pos")} for text, label in ROWS]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert get_task(str(tmp_path / "d.jsonl")).label_names == ("0", "1")
    lines[2]["label"] = True
    (tmp_path / "e.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    _refused(str(tmp_path / "e.jsonl"), r"e.jsonl:3: label in column 'label' is true/false")


def test_utf8_with_and_without_bom_read_alike(tmp_path):
    plain = _csv(tmp_path / "plain.csv")
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "plain.csv").read_bytes())
    assert read_splits(str(tmp_path / "bom.csv"), "hub") == read_splits(plain, "hub")


def test_latin1_is_refused_with_line_and_byte_or_read_with_its_encoding(tmp_path, monkeypatch):
    rows = list(ROWS)
    rows[11] = ("un film très beau", "pos")
    (tmp_path / "d.csv").write_bytes(
        "\n".join(["text,label", *(",".join(r) for r in rows)]).encode("latin-1") + b"\n"
    )
    _refused(
        str(tmp_path / "d.csv"),
        r"d.csv:13: byte 0xe8 \(offset \d+\) is not valid utf-8; save the file as UTF-8",
    )
    monkeypatch.chdir(tmp_path)
    name = task_argument("d.csv", encoding="latin-1")
    assert name == f"{tmp_path / 'd.csv'}:encoding=latin-1"
    texts = [ex["text"] for split in read_splits(name, "hub").values() for ex in split]
    assert "un film très beau" in texts
    _refused(custom_task_name(tmp_path / "d.csv", encoding="klingon"), r"d.csv: unknown encoding 'klingon'")


@pytest.mark.parametrize(
    "files,name_suffix,pattern",
    [
        ({"d.csv": ""}, "d.csv", r"d.csv:1: empty file; expected a header row"),
        (
            {"d.jsonl": '{"text": "a", "label": "x"}\n[1, 2]\n'},
            "d.jsonl",
            r"d.jsonl:2: expected a JSON object",
        ),
        ({"notes.txt": "x"}, "", r"no train file; expected train.csv, train.tsv or train.jsonl"),
    ],
)
def test_empty_files_non_objects_and_a_folder_without_train(tmp_path, files, name_suffix, pattern):
    for file, content in files.items():
        (tmp_path / file).write_text(content)
    _refused(str(tmp_path / name_suffix) if name_suffix else str(tmp_path), pattern)


def test_a_bad_column_option_and_an_unknown_suffix(tmp_path):
    _csv(tmp_path / "d.csv")
    _refused(
        f"{tmp_path / 'd.csv'}:colour=red", r"option 'colour=red'; expected key=column with key one of text"
    )
    (tmp_path / "d.txt").write_text("text,label\n")
    with pytest.raises(ValueError, match=r"unknown task '.*d.txt'; expected one of"):
        get_task(str(tmp_path / "d.txt"))


def test_pair_and_single_files_mixed_are_refused_naming_the_files(tmp_path):
    _csv(tmp_path / "train.csv", [(t, t, label) for t, label in ROWS], header="text,text_pair,label")
    _csv(tmp_path / "dev.csv")
    _refused(str(tmp_path), r"train.csv has one, dev.csv lacks one")


def test_validation_is_the_dev_split(tmp_path):
    _csv(tmp_path / "train.csv")
    _csv(tmp_path / "validation.csv", ROWS[:6])
    raw = read_splits(str(tmp_path), "hub")
    assert len(raw["train"]) == 30 and len(raw["dev"]) == 6


def test_a_file_edited_between_two_runs_is_read_again(tmp_path):
    name = _csv(tmp_path / "d.csv")
    assert get_task(name).label_names == ("neg", "pos")
    _csv(tmp_path / "d.csv", [*ROWS, ("a neutral text here", "neutral"), ("another neutral one", "neutral")])
    assert get_task(name).label_names == ("neg", "neutral", "pos")


def test_a_failed_train_leaves_no_output_folder(tmp_path, tiny_bert_with_tokenizer, capsys):
    from maskbert.cli import main

    _csv(tmp_path / "d.csv", [(t, "pos") for t, _ in ROWS])
    args = ["train", "--model", tiny_bert_with_tokenizer, "--task", str(tmp_path / "d.csv"), "--method"]
    code = main([*args, "masking", "--seed", "1", "--lr", "1e-3", "--out", str(tmp_path / "run")])
    assert code == 2 and "every example has label 'pos'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def _latin1_csv(path):
    rows = list(ROWS)
    rows[11] = ("un film très beau", "pos")
    path.write_bytes("\n".join(["text,label", *(",".join(r) for r in rows)]).encode("latin-1") + b"\n")
    return str(path)


def test_encoding_on_the_command_line_reaches_a_data_files_reader(tmp_path, tiny_bert_with_tokenizer, capsys):
    from maskbert.cli import main

    task = _latin1_csv(tmp_path / "d.csv")
    assert main(["data", task]) == 2
    assert "d.csv:13: byte 0xe8" in capsys.readouterr().err
    assert main(["data", task, "--encoding", "latin-1"]) == 0
    assert "train" in capsys.readouterr().out
    args = [
        "train",
        "--model",
        tiny_bert_with_tokenizer,
        "--task",
        task,
        "--method",
        "masking",
        "--seed",
        "1",
    ]
    out = tmp_path / "run"
    code = main([*args, "--lr", "1e-2", "--epochs", "1", "--out", str(out), "--encoding", "latin-1"])
    assert code == 0, capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["task"] == f"{task}:encoding=latin-1"


def _latin1_sst2(folder):
    folder.mkdir()
    lines = ["sentence\tlabel", *(f"{text}\t{int(label == 'pos')}" for text, label in ROWS[:12])]
    lines[5] = "un film très beau\t1"
    for split in ("train", "dev"):
        (folder / f"{split}.tsv").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return folder


def test_encoding_reaches_a_registry_tasks_local_reader_and_is_refused_where_no_file_is_read(tmp_path):
    folder = _latin1_sst2(tmp_path / "sst2")
    with pytest.raises(
        DataError, match=r"train.tsv:6: byte 0xe8 .* name its encoding \(--encoding latin-1\)"
    ):
        read_splits("sst2", "local", folder)
    texts = [ex["text"] for ex in read_splits("sst2", "local", folder, encoding="latin-1")["train"]]
    assert "un film très beau" in texts
    with pytest.raises(DataError, match=r"^--encoding latin-1: task 'sst2' from source 'hub' reads no files"):
        read_splits("sst2", "hub", encoding="latin-1")
    assert task_argument("sst2", encoding="latin-1") == "sst2"  # the encoding travels beside the name


def test_encoding_on_the_command_line_reaches_a_registry_tasks_training(
    tmp_path, tiny_bert_with_tokenizer, capsys, monkeypatch
):
    from maskbert.cli import main

    monkeypatch.setenv("MASKBERT_CACHE", str(tmp_path / "cache"))
    folder = _latin1_sst2(tmp_path / "sst2")
    args = ["train", "--model", tiny_bert_with_tokenizer, "--task", "sst2", "--source", "local"]
    args += ["--path", str(folder), "--method", "masking", "--seed", "1", "--lr", "1e-2", "--epochs", "1"]
    assert main([*args, "--out", str(tmp_path / "plain")]) == 2
    assert "train.tsv:6: byte 0xe8" in capsys.readouterr().err and not (tmp_path / "plain").exists()
    assert main([*args, "--out", str(tmp_path / "run"), "--encoding", "latin-1"]) == 0
    assert json.loads((tmp_path / "run" / "run.json").read_text())["encoding"] == "latin-1"
