"""Each local reader on small files written here, including the malformed variants."""

from __future__ import annotations

import pytest

from maskbert.data import DataError, get_task, read_splits
from maskbert.data.readers import read_local


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


MRPC_HEADER = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"


def test_glue_mrpc_keeps_bare_quotes(tmp_path):
    write(
        tmp_path / "train.tsv", MRPC_HEADER + '1\t1\t2\tHe said " the witness .\tOk " .\n0\t3\t4\tA b\tC d\n'
    )
    write(tmp_path / "dev.tsv", MRPC_HEADER + "1\t5\t6\tX\tY\n")
    splits = read_splits("mrpc", "local", tmp_path)
    assert splits["train"][0] == {
        "text_a": 'He said " the witness .',
        "text_b": 'Ok " .',
        "label": "equivalent",
    }
    assert splits["train"][1]["label"] == "not_equivalent"
    assert len(splits["dev"]) == 1


def test_glue_cola_has_no_header_and_sst2_rte_qnli_do(tmp_path):
    write(tmp_path / "cola/train.tsv", "gj04\t1\t\tThe cat sat.\ngj04\t0\t*\tCat the sat.")
    assert read_local(get_task("cola"), tmp_path / "cola", ("train",))["train"] == [
        {"text": "The cat sat.", "label": "acceptable"},
        {"text": "Cat the sat.", "label": "unacceptable"},
    ]
    write(tmp_path / "sst2/train.tsv", "sentence\tlabel\nit 's fine \t1\n")
    assert read_local(get_task("sst2"), tmp_path / "sst2", ("train",))["train"] == [
        {"text": "it 's fine", "label": "positive"}
    ]
    write(tmp_path / "rte/train.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tnot_entailment\n")
    assert read_local(get_task("rte"), tmp_path / "rte", ("train",))["train"][0]["label"] == "not_entailment"
    write(tmp_path / "qnli/dev.tsv", "index\tquestion\tsentence\tlabel\n0\tWhy?\tBecause.\tentailment\n")
    assert read_local(get_task("qnli"), tmp_path / "qnli", ("dev",))["dev"] == [
        {"text_a": "Why?", "text_b": "Because.", "label": "entailment"}
    ]


@pytest.mark.parametrize(
    ("task", "content", "message"),
    [
        (
            "mrpc",
            MRPC_HEADER + "1\t1\t2\tonly four\n",
            "train.tsv:2: expected 5 tab-separated columns, got 4",
        ),
        ("mrpc", MRPC_HEADER + "7\t1\t2\ta\tb\n", "train.tsv:2: unknown label '7'; expected one of: 0, 1"),
        ("rte", "index\tsentence1\tsentence2\tlabel\n0\tA\tB\tmaybe\n", "unknown label 'maybe'"),
        ("sst2", "sentence\tlabel\n \t1\n", "train.tsv:2: empty text"),
    ],
)
def test_glue_malformed_rows_name_file_and_line(tmp_path, task, content, message):
    write(tmp_path / "train.tsv", content)
    with pytest.raises(DataError, match=message):
        read_local(get_task(task), tmp_path, ("train",))


def test_missing_directory_and_file_are_clear(tmp_path):
    with pytest.raises(DataError, match="nowhere: not found; expected a directory with the MRPC files"):
        read_splits("mrpc", "local", tmp_path / "nowhere")
    write(tmp_path / "train.tsv", MRPC_HEADER + "1\t1\t2\ta\tb\n")
    with pytest.raises(DataError, match=r"no dev file; expected one of: dev.tsv"):
        read_splits("mrpc", "local", tmp_path)
    with pytest.raises(DataError, match="needs a path"):
        read_splits("mrpc", "local")


def test_empty_split_is_an_error(tmp_path):
    write(tmp_path / "train.tsv", MRPC_HEADER)
    with pytest.raises(DataError, match="train.tsv: no examples"):
        read_local(get_task("mrpc"), tmp_path, ("train",))


def trec_lines(n):
    classes = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    return "".join(f"{classes[i % 6]}:x What is question {i} ?\n" for i in range(n))


def test_trec_latin1_coarse_labels_and_dev_held_out(tmp_path):
    write(
        tmp_path / "train_5500.label",
        "LOC:other Where is the sister\xf0city ?\n" + trec_lines(599),
        "latin-1",
    )
    write(tmp_path / "TREC_10.label", "NUM:dist How far is it ?\n", "latin-1")
    splits = read_splits("trec", "local", tmp_path)
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [600 - 548, 548, 1]
    everything = splits["train"] + splits["dev"]
    assert {"text": "Where is the sister\xf0city ?", "label": "LOC"} in everything
    assert splits["test"] == [{"text": "How far is it ?", "label": "NUM"}]
    assert read_splits("trec", "local", tmp_path, seed=1)["dev"] != splits["dev"]
    assert read_splits("trec", "local", tmp_path)["dev"] == splits["dev"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("NUMBER:dist How ?\n", "unknown label 'NUMBER'"),
        ("no colon here\n", "expected 'COARSE:fine question'"),
        ("NUM:dist \n", "empty question"),
    ],
)
def test_trec_malformed(tmp_path, line, message):
    write(tmp_path / "TREC_10.label", "HUM:ind Who ?\n" + line)
    with pytest.raises(DataError, match=f"TREC_10.label:2: {message}"):
        read_splits("trec", "local", tmp_path, splits=("test",))


def test_trec_too_small_to_hold_out_dev(tmp_path):
    write(tmp_path / "train_5500.label", trec_lines(10))
    with pytest.raises(DataError, match="10 training examples; need more than 548"):
        read_splits("trec", "local", tmp_path, splits=("train",))


def test_ag_news_csv(tmp_path):
    write(
        tmp_path / "test.csv",
        '"3","Fears for pension","Unions ""say"" they are, disappointed."\n"2","Win","Team wins."\n',
    )
    assert read_splits("ag", "local", tmp_path, splits=("test",))["test"] == [
        {"text": 'Fears for pension Unions "say" they are, disappointed.', "label": "Business"},
        {"text": "Win Team wins.", "label": "Sports"},
    ]
    write(tmp_path / "test.csv", '"5","Title","Text"\n')
    with pytest.raises(DataError, match=r"test.csv:1: unknown class '5'; expected 1..4"):
        read_splits("ag", "local", tmp_path, splits=("test",))
    write(tmp_path / "test.csv", '"1","Title"\n')
    with pytest.raises(DataError, match=r"test.csv:1: expected 3 columns"):
        read_splits("ag", "local", tmp_path, splits=("test",))


CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def test_conll_columns_docstart_and_blank_lines(tmp_path):
    for name in ("train.txt", "valid.txt", "test.txt"):
        write(tmp_path / name, CONLL)
    splits = read_splits("ner", "local", tmp_path)
    assert splits["dev"] == [
        {"tokens": ["EU", "rejects", "German"], "tags": ["B-ORG", "O", "B-MISC"]},
        {"tokens": ["Peter", "Blackburn"], "tags": ["B-PER", "I-PER"]},
    ]
    write(tmp_path / "test.txt", CONLL.replace("I-PER", "I-PERSON"))
    with pytest.raises(DataError, match=r"test.txt:8: unknown label 'I-PERSON'"):
        read_splits("ner", "local", tmp_path)


SEMEVAL = (
    '628949369883000832\tdunkin\tnegative\tdunkin "donuts" is bad\n'
    "628976607420645377\tdunkin\tpositive\tlove it :)\t\n"
)


def test_semeval_tsv_with_trailing_column_and_quotes(tmp_path):
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
        write(tmp_path / name, SEMEVAL)
    splits = read_splits("sem", "local", tmp_path)
    assert splits["test"] == [
        {"text": 'dunkin "donuts" is bad', "label": "negative"},
        {"text": "love it :)", "label": "positive"},
    ]


def test_semeval_official_file_names_are_read_from_the_folder(tmp_path):
    official = {
        "train": "twitter-2016train-BD.tsv",
        "dev": "twitter-2016dev-BD.tsv",
        "test": "twitter-2016test-BD.tsv",
    }
    for split, name in official.items():
        write(tmp_path / name, SEMEVAL.replace("dunkin", split))
    write(tmp_path / "twitter-2016devtest-BD.tsv", "not read\n")
    splits = read_splits("sem", "local", tmp_path)
    assert {split: examples[0]["text"] for split, examples in splits.items()} == {
        "train": 'train "donuts" is bad',
        "dev": 'dev "donuts" is bad',
        "test": 'test "donuts" is bad',
    }
    write(
        tmp_path / "dev.tsv", SEMEVAL.replace("dunkin", "renamed")
    )  # a renamed copy wins over the official name
    assert (
        read_splits("sem", "local", tmp_path, splits=("dev",))["dev"][0]["text"] == 'renamed "donuts" is bad'
    )
    (tmp_path / "twitter-2016test-BD.tsv").unlink()
    with pytest.raises(
        DataError, match="no test file; expected one of: test.tsv, test.txt, twitter-2016test-BD.tsv"
    ):
        read_splits("sem", "local", tmp_path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1\tt\tneutral\ttext\n", "unknown label 'neutral'; expected one of: negative, positive"),
        ("1\tt\tpositive\n", "expected 4 tab-separated columns"),
        ("1\tt\tpositive\t \n", "empty tweet text"),
    ],
)
def test_semeval_malformed(tmp_path, row, message):
    write(tmp_path / "test.tsv", SEMEVAL + row)
    with pytest.raises(DataError, match=f"test.tsv:3: {message}"):
        read_splits("sem", "local", tmp_path, splits=("test",))


WORD_TAG = "The\tDT\ncat\tNN\nsat\tVBD\n.\t.\n\nIt\tPRP\nran\tJJ|VBD\n"


def test_pos_split_files_and_ambiguous_tags(tmp_path):
    for name in ("train.txt", "dev.txt", "test.txt"):
        write(tmp_path / name, WORD_TAG)
    splits = read_splits("pos", "local", tmp_path)
    assert splits["dev"] == [
        {"tokens": ["The", "cat", "sat", "."], "tags": ["DT", "NN", "VBD", "."]},
        {"tokens": ["It", "ran"], "tags": ["PRP", "JJ"]},
    ]
    write(tmp_path / "test.txt", "The DT\n")
    with pytest.raises(DataError, match=r"test.txt:1: expected 'word<TAB>TAG'"):
        read_splits("pos", "local", tmp_path)


MRG = """( (S
    (NP-SBJ (DT The) (NN cat) )
    (VP (VBD sat)
      (NP (-NONE- *T*-1) ))
    (. .) ))
( (S (NP-SBJ (PRP It) ) (VP (VBD ran) ) (. .) ))
"""


def test_pos_wsj_sections_from_mrg_files(tmp_path):
    for section in (0, 18, 19, 22, 24):
        write(tmp_path / f"{section:02d}" / f"wsj_{section:02d}01.mrg", MRG)
    splits = read_splits("pos", "local", tmp_path)
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [4, 2, 4]
    assert splits["dev"][0] == {"tokens": ["The", "cat", "sat", "."], "tags": ["DT", "NN", "VBD", "."]}
    write(tmp_path / "24" / "wsj_2401.mrg", MRG + "( (S (NN oops) )\n")
    with pytest.raises(DataError, match=r"wsj_2401.mrg:7: tree not closed"):
        read_splits("pos", "local", tmp_path)


def test_pos_single_file_is_split_in_order(tmp_path):
    sentences = "".join(f"w{i}\tNN\n\n" for i in range(100))
    splits = read_splits("pos", "local", write(tmp_path / "all.txt", sentences))
    assert [len(splits[s]) for s in ("train", "dev", "test")] == [78, 11, 11]
    assert splits["train"][0]["tokens"] == ["w0"] and splits["test"][-1]["tokens"] == ["w99"]


def test_pos_folder_with_one_file_is_read_like_that_file(tmp_path):
    sentences = "".join(f"w{i}\tNN\n\n" for i in range(100))
    write(tmp_path / "pos" / "wsj.tagged", sentences)
    write(tmp_path / "pos" / "README.md", "where the file came from\n")
    from_folder = read_splits("pos", "local", tmp_path / "pos")
    assert from_folder == read_splits("pos", "local", tmp_path / "pos" / "wsj.tagged")
    assert [len(from_folder[s]) for s in ("train", "dev", "test")] == [78, 11, 11]
    write(tmp_path / "pos" / "other.tagged", sentences)
    with pytest.raises(DataError, match="no POS data"):
        read_splits("pos", "local", tmp_path / "pos")


def test_pos_without_known_layout(tmp_path):
    write(tmp_path / "notes.md", "nothing\n")
    with pytest.raises(DataError, match="no POS data; expected train.txt/dev.txt/test.txt"):
        read_splits("pos", "local", tmp_path)


SWAG_HEADER = "video-id,fold-ind,startphrase,sent1,sent2,gold-source,ending0,ending1,ending2,ending3,label\n"


def test_swag_csv(tmp_path):
    row = 'lsmdc1,5,"She opens it. He","She opens it.",He,gold,"runs.","sits, ""calm"".",eats.,sleeps.,1\n'
    write(tmp_path / "train.csv", SWAG_HEADER + row)
    write(tmp_path / "val.csv", SWAG_HEADER + row)
    splits = read_splits("swag", "local", tmp_path)
    assert splits["dev"] == [
        {
            "context": "She opens it.",
            "start": "He",
            "endings": ["runs.", 'sits, "calm".', "eats.", "sleeps."],
            "label": "1",
        }
    ]
    write(tmp_path / "val.csv", SWAG_HEADER + row.replace(",1\n", ",4\n"))
    with pytest.raises(DataError, match=r"val.csv:2: unknown label '4'"):
        read_splits("swag", "local", tmp_path)
    write(tmp_path / "val.csv", "sent1,label\nx,1\n")
    with pytest.raises(DataError, match=r"val.csv:1: missing columns"):
        read_splits("swag", "local", tmp_path)


def test_imdb_directories_and_csv(tmp_path):
    for split in ("train", "test"):
        write(tmp_path / split / "pos" / "0_9.txt", "Great film.<br />Loved it.")
        write(tmp_path / split / "neg" / "1_2.txt", "Dull.")
    assert read_splits("imdb", "local", tmp_path)["test"] == [
        {"text": "Dull.", "label": "neg"},
        {"text": "Great film.<br />Loved it.", "label": "pos"},
    ]
    csv_dir = tmp_path / "csv"
    write(csv_dir / "train.csv", 'review,sentiment\n"Nice, really",positive\n')
    write(csv_dir / "test.csv", "text,label\nBad,0\nOk,maybe\n")
    assert read_splits("imdb", "local", csv_dir, splits=("train",))["train"] == [
        {"text": "Nice, really", "label": "pos"}
    ]
    with pytest.raises(DataError, match=r"test.csv:3: unknown label 'maybe'"):
        read_splits("imdb", "local", csv_dir)


def test_data_root_resolves_to_task_subfolder(tmp_path):
    write(tmp_path / "trec" / "TREC_10.label", "HUM:ind Who ?\n")
    assert len(read_splits("trec", "local", tmp_path, splits=("test",))["test"]) == 1
