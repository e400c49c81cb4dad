"""`maskbert predict` answers every line: malformed types, encodings, surrogates and extra fields cost one
answer each, in order, and the stream goes on; bad limits are refused before serving (issue 16)."""

import io
import json
import sys

import pytest
from conftest import task_view

from maskbert.adapter import save_masks
from maskbert.cli import main
from maskbert.masking import MaskingConfig
from maskbert.methods import build_model
from maskbert.serving import MaskServer, serve_lines


def _mask(base, kind, labels, directory):
    task = task_view(kind, labels=labels, name=directory.name)
    model = build_model(base, task, "masking", seed=1, options=MaskingConfig(masked_blocks="1-3"))
    return save_masks(model, directory, base_model=base, task=task)


@pytest.fixture(scope="module")
def masks(tiny_bert_with_tokenizer, tmp_path_factory):
    root = tmp_path_factory.mktemp("robust-masks")
    return {
        "s": _mask(tiny_bert_with_tokenizer, "single", 2, root / "s"),
        "p": _mask(tiny_bert_with_tokenizer, "pair", 2, root / "a=b"),  # a path holding '='
    }


BAD_LINES = [
    (b'{"task": ["x"], "text": "a"}', 'line 2: unknown task ["x"]; loaded tasks: a=b, s'),
    (b'{"task": {"s": 1}, "text": "a"}', 'line 3: unknown task {"s": 1}'),
    (
        b'{"task": "s", "text": "bad \\ud800 text"}',
        'line 4: field "text" holds a lone surrogate (\\ud800) at character 5',
    ),
    (b'{"task": "s", "text": "caf\xe9"}', "line 5: byte 0xe9 at byte 27 is not valid UTF-8"),
    (
        b'{"task": "s", "text": "a", "text_pair": "b"}',
        "line 6: field \"text_pair\" does not apply to task 's' (single)",
    ),
    (b'{"task": "s", "text": ["a", "b"]}', "line 7: task 's' needs a non-empty string \"text\""),
    (
        b'{"task": "a=b", "text": "a", "text_pair": 3}',
        "line 8: task 'a=b' needs a non-empty string \"text_pair\"",
    ),
]
GOOD = b'{"task": "s", "text": "the film was great"}'


def _lines():
    return [GOOD, *(line for line, _ in BAD_LINES), b'{"task": "a=b", "text": "it was", "text_pair": "fine"}']


def test_every_bad_line_gets_its_own_error_and_the_rest_answers(masks):
    server = MaskServer()
    server.add(masks["s"])
    server.add(masks["p"])
    records = list(serve_lines(server, _lines(), chunk=4))
    assert [r["line"] for r in records] == list(range(1, len(BAD_LINES) + 3))
    assert records[0]["label"] in ("L0", "L1") and records[-1]["task"] == "a=b"
    for record, (_, message) in zip(records[1:-1], BAD_LINES):
        assert record["error"].startswith(message), record


def test_a_byte_order_mark_on_the_first_line_is_read_as_text(masks):
    server = MaskServer()
    server.add(masks["s"])
    (record,) = serve_lines(server, ["\ufeff" + GOOD.decode()])
    assert record["task"] == "s" and "error" not in record


def test_a_request_that_fails_inside_the_model_costs_only_its_answer(masks, monkeypatch):
    server = MaskServer()
    server.add(masks["s"])
    predict = server.predict

    def fragile(requests):
        if any(r["text"] == "boom" for r in requests):
            raise RuntimeError("index out of range in self")
        return predict(requests)

    monkeypatch.setattr(server, "predict", fragile)
    lines = [GOOD, b'{"task": "s", "text": "boom"}', GOOD]
    records = list(serve_lines(server, lines))
    assert [("error" in r) for r in records] == [False, True, False]
    assert records[1]["error"] == "line 2: RuntimeError: index out of range in self"


def test_predict_command_reads_bytes_from_stdin_and_a_model_dir_with_an_equals_sign(
    masks, monkeypatch, capsys
):
    stdin = io.TextIOWrapper(io.BytesIO(b"\n".join(_lines()) + b"\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["predict", "--model-dir", str(masks["s"]), "--model-dir", str(masks["p"])]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == len(BAD_LINES) + 2 and records[-1]["task"] == "a=b"
    assert sum("error" in r for r in records) == len(BAD_LINES)


def test_predict_command_reads_an_input_file_with_a_bad_byte(masks, tmp_path, capsys):
    file = tmp_path / "requests.jsonl"
    file.write_bytes(b"\n".join(_lines()))
    assert (
        main(
            ["predict", "--model-dir", str(masks["s"]), "--model-dir", str(masks["p"]), "--input", str(file)]
        )
        == 0
    )
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[4]["error"] == "line 5: byte 0xe9 at byte 27 is not valid UTF-8"


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--batch-size", "0"], "batch size 0: expected 1 or more"),
        (["--device", "banana"], "device 'banana': expected cpu, cuda, cuda:N or mps"),
        (["--max-length", "1000"], "max length 1000: model '.*' takes 1 to 512 wordpieces"),
    ],
)
def test_predict_limits_are_refused_before_serving(masks, flags, message, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(GOOD.decode()))
    assert main(["predict", "--model-dir", str(masks["s"]), *flags]) == 2
    out = capsys.readouterr()
    assert out.out == "" and __import__("re").search(message, out.err), out.err


def test_cuda_without_a_gpu_is_refused_by_name(monkeypatch):
    import torch

    from maskbert.devices import check_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device 'cuda': no CUDA GPU is available here; use --device cpu"):
        check_device("cuda")
    check_device("cpu")


# --- damaged or foreign artifacts: one line naming the file, in load_run_model, predict and evaluate ---

TENSOR_FILE = {
    "masking": "mask.safetensors",
    "bitfit": "bitfit.safetensors",
    "lora": "adapter_model.safetensors",
}


@pytest.fixture(scope="module")
def method_runs(tiny_bert_with_tokenizer, tmp_path_factory):
    """A finished 1-epoch run of masking, BitFit and LoRA on the synthetic sentiment task."""
    from maskbert.data import prepare
    from maskbert.training import TrainConfig, train

    root = tmp_path_factory.mktemp("damaged-runs")
    prepared = prepare("synth-sentiment", tiny_bert_with_tokenizer, source="synthetic", out_dir=root / "data")
    runs = {}
    for method in TENSOR_FILE:
        runs[method] = root / method
        config = TrainConfig(
            model=tiny_bert_with_tokenizer,
            task="synth-sentiment",
            method=method,
            seed=1,
            lr=1e-2,
            out_dir=str(runs[method]),
            epochs=1,
            prepared_dir=str(prepared),
            device="cpu",
        )
        train(config)
    return runs


def _header_length(path):
    path.write_bytes(b"\xff" * 7 + b"\x7f" + path.read_bytes()[8:])  # a header of ~9e18 bytes


def _header_json(path):
    data = bytearray(path.read_bytes())
    data[8] = ord("x")  # the header's opening brace
    path.write_bytes(bytes(data))


def _truncated(path):
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.6)])


def _missing(path):
    path.unlink()


DAMAGE = {
    "header length": (_header_length, "unreadable artifact: its first 8 bytes give a header of"),
    "header JSON": (_header_json, "unreadable artifact (truncated or corrupted file)"),
    "truncated tensors": (_truncated, "unreadable artifact"),
    "missing file": (_missing, "no such artifact file"),
}


def _one_line(text: str, *parts: str) -> None:
    assert text.count("\n") <= 1 and "Traceback" not in text, text
    for part in parts:
        assert part in text, (part, text)


def _refused_everywhere(run, file, message, tmp_path, capsys):
    """load_run_model, `maskbert predict` and `maskbert evaluate` each refuse the run in one line naming
    `file`."""
    from maskbert.artifact import ArtifactError
    from maskbert.methods import load_run_model

    with pytest.raises(ArtifactError) as refused:
        load_run_model(run)
    _one_line(str(refused.value), str(file), message)
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"task": "synth-sentiment", "text": "good"}\n')
    capsys.readouterr()
    assert main(["predict", "--model-dir", str(run), "--input", str(requests)]) == 2
    _one_line(capsys.readouterr().err, "maskbert predict: error: ", str(file), message)
    out = tmp_path / "evaluation"
    assert main(["evaluate", "--run", str(run), "--split", "dev", "--out", str(out)]) == 2
    _one_line(capsys.readouterr().err, "maskbert evaluate: error: ", str(file))
    assert not out.exists()


@pytest.mark.parametrize("method", list(TENSOR_FILE))
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_tensor_file_is_named_in_one_line(method_runs, method, damage, tmp_path, capsys):
    import shutil

    run = shutil.copytree(method_runs[method], tmp_path / "run")
    file = run / "artifact" / TENSOR_FILE[method]
    edit, message = DAMAGE[damage]
    edit(file)
    _refused_everywhere(run, file, message, tmp_path, capsys)


def test_a_missing_adapter_config_or_one_that_disagrees_with_its_weights_is_named(
    method_runs, tmp_path, capsys
):
    import shutil

    run = shutil.copytree(method_runs["lora"], tmp_path / "run")
    config = run / "artifact" / "adapter_config.json"
    saved = json.loads(config.read_text())
    config.write_text(json.dumps({**saved, "r": saved["r"] * 2}))  # a rank its weights do not have
    _refused_everywhere(run, config, "does not fit adapter_model.safetensors", tmp_path, capsys)
    config.unlink()
    _refused_everywhere(run, config, "no such file", tmp_path, capsys)


def test_a_damaged_or_missing_artifact_record_is_named(method_runs, tmp_path, capsys):
    import shutil

    run = shutil.copytree(method_runs["bitfit"], tmp_path / "run")
    record = run / "artifact" / "maskbert.json"
    record.write_text(record.read_text()[:-10])
    _refused_everywhere(run, record, "not a readable artifact record", tmp_path, capsys)
    record.write_text(json.dumps({"method": "bitfit", "base_model": "x"}))
    _refused_everywhere(run, record, "field 'task' is missing", tmp_path, capsys)


@pytest.mark.parametrize("content", [b"just some notes\n", b"\x00" * 3])
def test_model_dir_pointing_at_a_file_that_is_no_artifact_is_named(tmp_path, capsys, content):
    text = tmp_path / "notes.txt"
    text.write_bytes(content)
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"task": "x", "text": "good"}\n')
    assert main(["predict", "--model-dir", str(text), "--input", str(requests)]) == 2
    _one_line(capsys.readouterr().err, f"{text}: not an artifact maskbert wrote: no maskbert.json in")
