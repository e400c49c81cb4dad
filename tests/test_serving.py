"""One backbone serving many masks: same answers as each task's own model, switching, bad requests, the CLI."""

import json

import pytest
import torch
from conftest import task_view
from transformers import AutoTokenizer

from maskbert.adapter import load_masked, save_masks
from maskbert.artifact import ArtifactError
from maskbert.masking import MaskingConfig
from maskbert.methods import build_model
from maskbert.serving import MaskServer, serve_lines

TEXTS = [
    "the film was great",
    "a dull and boring evening at the theatre",
    "who wrote hamlet ?",
    "paris is nice",
]
PAIRS = ["it was good", "nobody liked the play"]


def _trained_dir(base, kind, labels, directory, seed, blocks, coding):
    task = task_view(kind, labels=labels, name=directory.name)
    model = build_model(
        base, task, "masking", seed=seed, options=MaskingConfig(masked_blocks=blocks, initial_sparsity=0.1)
    )
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    torch.manual_seed(seed)
    for _ in range(3):
        shape = (8, 7) if kind == "tagging" else (8,)
        loss = model(input_ids=torch.randint(5, 100, (8, 7)), labels=torch.randint(0, labels, shape)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return save_masks(model, directory, base_model=base, task=task, coding=coding)


@pytest.fixture(scope="module")
def mask_dirs(tiny_bert_with_tokenizer, tmp_path_factory):
    root = tmp_path_factory.mktemp("masks")
    base = tiny_bert_with_tokenizer
    return {
        "topic": _trained_dir(base, "single", 3, root / "topic", 1, "1-3", "flips"),
        "para": _trained_dir(base, "pair", 2, root / "para", 2, "0-3", "bits"),
        "tags": _trained_dir(base, "tagging", 4, root / "tags", 3, "2-3", "flips"),
    }


def _expected(directory, base, request):
    model = load_masked(directory)
    tokenizer = AutoTokenizer.from_pretrained(base)
    encoded = tokenizer(request["text"], request.get("text_pair"), return_tensors="pt")
    with torch.no_grad():
        return model(**encoded).logits.softmax(-1)[0]


def test_answers_equal_each_tasks_own_model_across_switches(mask_dirs, tiny_bert_with_tokenizer):
    server = MaskServer(batch_size=2)
    for directory in mask_dirs.values():
        server.add(directory)
    assert set(server.tasks) == {"topic", "para", "tags"}
    backbones = {id(m.bert) for m in server.models.values()}
    assert len(server.models) == 2 and len(backbones) == 1  # sequence and token heads share one backbone
    requests = [
        {"task": "topic", "text": TEXTS[0]},
        {"task": "para", "text": TEXTS[1], "text_pair": PAIRS[0]},
        {"task": "topic", "text": TEXTS[2]},
        {"task": "tags", "text": TEXTS[3]},
        {"task": "para", "text": TEXTS[2], "text_pair": PAIRS[1]},
    ]
    first = server.predict(requests)
    again = server.predict(list(reversed(requests)))[::-1]  # other switch order, other batches
    for request, result, repeat in zip(requests, first, again):
        if request["task"] == "tags":
            assert result["words"] == TEXTS[3].split() and len(result["labels"]) == 3
            assert result == repeat
            continue
        expected = _expected(mask_dirs[request["task"]], tiny_bert_with_tokenizer, request)
        got = torch.tensor(list(result["probabilities"].values()))
        assert torch.allclose(got, expected, atol=1e-5), request
        assert result["label"] == list(result["probabilities"])[int(expected.argmax())]
        assert result["probabilities"] == repeat["probabilities"]


def test_switching_back_restores_the_pretrained_weights_exactly(mask_dirs, tiny_bert_with_tokenizer):
    server = MaskServer()
    server.add(mask_dirs["topic"])
    server.add(mask_dirs["para"])
    pristine = {n: p.clone() for n, p in server.models[next(iter(server.models))].bert.named_parameters()}
    server.activate("topic")
    topic_weights = {
        n: p.clone() for n, p in server.models[next(iter(server.models))].bert.named_parameters()
    }
    server.activate("para")
    server.activate("topic")
    backbone = dict(server.models[next(iter(server.models))].bert.named_parameters())
    assert all(torch.equal(backbone[n], topic_weights[n]) for n in backbone)
    assert any(not torch.equal(pristine[n], topic_weights[n]) for n in pristine)
    sizes = server.resident_bytes()
    assert sizes["tasks"] < 0.2 * sizes["model"] and sizes["aside"] < 0.2 * sizes["model"]


def test_bad_lines_get_error_records_and_the_others_are_answered(mask_dirs):
    server = MaskServer()
    server.add(mask_dirs["topic"], name="t")
    server.add(mask_dirs["para"])
    lines = [
        json.dumps({"task": "t", "text": TEXTS[0]}),
        '{"task": "t", "text": ',
        "",
        json.dumps({"task": "nope", "text": "x"}),
        json.dumps({"task": "t"}),
        json.dumps({"task": "para", "text": "only one"}),
        "[1, 2]",
        json.dumps({"task": "t", "text": TEXTS[1]}),
    ]
    records = list(serve_lines(server, lines, chunk=3))
    assert [r["line"] for r in records] == [1, 2, 4, 5, 6, 7, 8]
    assert records[0]["label"] in ("L0", "L1", "L2") and records[-1]["task"] == "t"
    errors = {r["line"]: r["error"] for r in records if "error" in r}
    assert errors[2].startswith("line 2: malformed JSON")
    assert errors[4].startswith('line 4: unknown task "nope"; loaded tasks: para, t')
    assert errors[5] == "line 5: task 't' needs a non-empty string \"text\""
    assert "text_pair" in errors[6] and "JSON object" in errors[7]


def test_mask_for_another_base_model_is_refused(mask_dirs, tiny_model_dirs, tmp_path):
    other = _trained_dir(tiny_model_dirs["bert"], "single", 2, tmp_path / "other", 1, "1-3", "flips")
    server = MaskServer()
    server.add(mask_dirs["topic"])
    with pytest.raises(ArtifactError, match=r"other/maskbert.json: made for base model"):
        server.add(other)
    with pytest.raises(ValueError, match="task name 'topic' is already taken"):
        server.add(mask_dirs["topic"])


def test_predict_command(mask_dirs, tmp_path, capsys):
    from maskbert.cli import main

    requests = tmp_path / "requests.jsonl"
    requests.write_text(
        json.dumps({"task": "a", "text": TEXTS[0]})
        + "\n{bad\n"
        + json.dumps({"task": "para", "text": TEXTS[1], "text_pair": PAIRS[1]})
        + "\n"
    )
    assert (
        main(
            [
                "predict",
                "--model-dir",
                f"a={mask_dirs['topic']}",
                "--model-dir",
                str(mask_dirs["para"]),
                "--input",
                str(requests),
            ]
        )
        == 0
    )
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3]
    assert records[0]["task"] == "a" and abs(sum(records[0]["probabilities"].values()) - 1) < 1e-4
    assert "error" in records[1] and records[2]["label"] in ("L0", "L1")


def test_a_tagging_mask_first_then_a_sequence_mask(mask_dirs, tiny_bert_with_tokenizer):
    server = MaskServer()
    server.add(mask_dirs["tags"])
    server.add(mask_dirs["topic"])
    request = {"task": "topic", "text": TEXTS[1]}
    result = server.predict([{"task": "tags", "text": TEXTS[0]}, request])[1]
    expected = _expected(mask_dirs["topic"], tiny_bert_with_tokenizer, request)
    assert torch.allclose(torch.tensor(list(result["probabilities"].values())), expected, atol=1e-5)


def _evaluated_tags(directory, base, sentences, max_length):
    """The tagging model's own word labels as evaluation computes them: the data layer's encoding (label on
    each kept word's last wordpiece, words cut by max_length dropped) and evaluation.predict."""
    from datasets import Dataset

    from maskbert.data import encode_split, load_tokenizer
    from maskbert.evaluation import predict

    model = load_masked(directory)
    task = task_view("tagging", labels=len(model.config.id2label), name="tags")
    tokenizer = load_tokenizer(base, "tagging")
    examples = [{"tokens": words, "tags": [task.label_names[0]] * len(words)} for words in sentences]
    columns, _ = encode_split(task, examples, tokenizer, max_length)
    dataset = Dataset.from_dict(columns)
    predictions = predict(model, dataset, task, tokenizer.pad_token_id, batch_size=2)
    predicted = iter(predictions.predicted_ids().tolist())
    labels = []
    for words, kept in zip(sentences, dataset["kept_words"]):
        row = [None] * len(words)
        for word in kept:
            row[word] = task.label_names[next(predicted)]
        labels.append(row)
    return labels


@pytest.mark.parametrize("max_length", [128, 9])
def test_tagging_answers_equal_the_evaluated_models_word_labels(
    mask_dirs, tiny_bert_with_tokenizer, max_length
):
    """Served tags are the tagging model's own predictions on the same sentences, through evaluation's
    encoding; at a small max_length the words past it (whole or cut) get no label, as evaluation drops them."""
    sentences = [
        TEXTS[1].split(),
        "unbelievably overwhelming performances everywhere tonight".split(),
        (TEXTS[0] + " " + TEXTS[1]).split(),
        "the film was great unbelievably".split(),  # at 9: the last word's wordpieces are cut part way
    ]
    server = MaskServer(batch_size=2, max_length=max_length)
    server.add(mask_dirs["tags"])
    served = server.predict([{"task": "tags", "text": " ".join(words)} for words in sentences])
    expected = _evaluated_tags(mask_dirs["tags"], tiny_bert_with_tokenizer, sentences, max_length)
    assert [r["labels"] for r in served] == expected
    assert all(r["words"] == words for r, words in zip(served, sentences))
    if max_length < 128:
        assert any(None in row for row in expected)  # some words fell beyond max_length
    else:
        assert all(None not in row for row in expected)


def test_sequence_requests_are_truncated_at_max_length(mask_dirs, tiny_bert_with_tokenizer):
    long_text = " ".join([TEXTS[1]] * 60)  # about 500 wordpieces
    server = MaskServer(max_length=16)
    server.add(mask_dirs["topic"])
    [result] = server.predict([{"task": "topic", "text": long_text}])
    model = load_masked(mask_dirs["topic"])
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_with_tokenizer)
    encoded = tokenizer(long_text, truncation=True, max_length=16, return_tensors="pt")
    assert encoded["input_ids"].shape[1] == 16
    with torch.no_grad():
        expected = model(**encoded).logits.softmax(-1)[0]
    assert torch.allclose(torch.tensor(list(result["probabilities"].values())), expected, atol=1e-5)


def test_a_multiple_choice_mask_is_refused(tiny_bert_with_tokenizer, tmp_path):
    task = task_view("multiple_choice", labels=4, name="choices")
    model = build_model(tiny_bert_with_tokenizer, task, "masking", seed=1)
    directory = save_masks(model, tmp_path / "choices", base_model=tiny_bert_with_tokenizer, task=task)
    server = MaskServer()
    with pytest.raises(ValueError, match=r"choices: task kind 'multiple_choice' cannot be served"):
        server.add(directory)
    assert server.tasks == {}


def test_a_mask_of_another_shape_is_refused_naming_the_layer(tiny_bert_with_tokenizer, tmp_path, monkeypatch):
    """A file whose recorded layer shape is not the base model's (here: one layer's mask cut to half its
    rows, written with every checksum in order) is refused at add(), naming the layer and both shapes."""
    import maskbert.artifact

    task = task_view("single", labels=2, name="odd")
    model = build_model(tiny_bert_with_tokenizer, task, "masking", seed=1)
    real = maskbert.artifact.binary_masks
    layer = next(n for n in real(model) if ".layer." in n)

    def cut(model):
        masks = real(model)
        masks[layer] = masks[layer][: masks[layer].shape[0] // 2]
        return masks

    monkeypatch.setattr(maskbert.artifact, "binary_masks", cut)
    directory = save_masks(
        model, tmp_path / "odd", base_model=tiny_bert_with_tokenizer, task=task, coding="bits"
    )
    monkeypatch.undo()
    shape = list(real(model)[layer].shape)
    server = MaskServer()
    with pytest.raises(
        ArtifactError,
        match=rf"odd/mask.safetensors: layer '{layer}' with shape \[{shape[0] // 2}, {shape[1]}\] is not",
    ):
        server.add(directory)
    assert server.tasks == {}
