"""`maskbert predict` serves runs of every method from one backbone: masks, BitFit biases and peft adapters
put on and taken off the same loaded base; each answer equals `maskbert evaluate`'s prediction."""

import json
import random

import numpy as np
import pytest
import torch
from conftest import tiny_backbone

from maskbert.cli import main as cli_main
from maskbert.data import prepare, read_splits
from maskbert.evaluation import Predictions, evaluate_run
from maskbert.methods.base import ArtifactRecord
from maskbert.modeling import TaskRecord
from maskbert.serving import MaskServer
from maskbert.training import TrainConfig, train

SENTIMENT = ("masking", "bitfit", "lora", "ia3")
TAGGING = ("bitfit", "lora")


@pytest.fixture(scope="module")
def runs(tiny_bert_with_tokenizer, tmp_path_factory):
    """name -> run directory: every method on a sentence task, BitFit and LoRA on a tagging task (1 epoch)."""
    root = tmp_path_factory.mktemp("served-runs")
    model = tiny_bert_with_tokenizer
    prepared = {
        task: str(prepare(task, model, source="synthetic", out_dir=root / "data" / task))
        for task in ("synth-sentiment", "synth-ner")
    }
    out = {}
    for task, methods in (("synth-sentiment", SENTIMENT), ("synth-ner", TAGGING)):
        for seed, method in enumerate(methods, start=1):
            name = f"{'ner' if task == 'synth-ner' else 'sent'}-{method}"
            out[name] = root / name
            config = TrainConfig(
                model=model,
                task=task,
                method=method,
                seed=seed,
                lr=5e-2 if method in ("masking", "ia3") else 1e-2,
                out_dir=str(out[name]),
                epochs=1,
                prepared_dir=prepared[task],
                device="cpu",
            )
            train(config)
            evaluate_run(out[name], "dev", device="cpu")
    return out


def _requests(name):
    rows = read_splits("synth-ner" if name.startswith("ner") else "synth-sentiment", "synthetic")["dev"][:24]
    key = "tokens" if name.startswith("ner") else "text"
    return [{"task": name, "text": " ".join(r[key]) if key == "tokens" else r[key]} for r in rows]


def test_every_method_answers_as_evaluate_predicts_on_one_backbone(runs):
    server = MaskServer(batch_size=5)
    for name, run in runs.items():
        assert server.add(run, name=name) == name
    assert len({id(model.bert) for model in server.models.values()}) == 1  # one backbone for every head
    requests = [request for name in runs for request in _requests(name)]
    random.Random(0).shuffle(requests)
    first = server.predict(requests)
    again = server.predict(requests[::-1])[::-1]  # other switch order, other batches
    assert first == again
    for name, run in runs.items():
        evaluated = Predictions.load(run / "evaluation" / "dev_predictions.safetensors")
        label_names = json.loads((run / "run.json").read_text())["label_names"]
        answers = {r["text"]: a for r, a in zip(requests, first) if r["task"] == name}
        texts = [r["text"] for r in _requests(name)]
        if name.startswith("ner"):  # one logit row per word (every word kept: the sentences are short)
            bounds = np.cumsum([len(text.split()) for text in texts])[:-1]
            for text, logits in zip(
                texts, np.split(evaluated.logits[: sum(map(len, map(str.split, texts)))], bounds)
            ):
                assert answers[text]["labels"] == [label_names[i] for i in logits.argmax(-1)], name
            continue
        expected = torch.from_numpy(evaluated.logits[: len(texts)]).softmax(-1)
        got = torch.tensor([list(answers[text]["probabilities"].values()) for text in texts])
        assert torch.allclose(got, expected, atol=2e-6), name
        assert [answers[t]["label"] for t in texts] == [label_names[i] for i in expected.argmax(-1)]
    # each method changed the answers: no task is served as the bare backbone or as another task
    sentence_tasks = [n for n in runs if n.startswith("sent")]
    probabilities = {
        n: [a["probabilities"] for r, a in zip(requests, first) if r["task"] == n] for n in sentence_tasks
    }
    assert len({json.dumps(probabilities[n]) for n in sentence_tasks}) == len(sentence_tasks)


def _base_weights(backbone) -> dict:
    """The backbone's pretrained parameters by their plain names (peft's wrappers and adapters left out)."""
    return {
        n.replace(".base_layer", ""): p.detach().clone()
        for n, p in backbone.named_parameters()
        if "lora_" not in n and "ia3_" not in n
    }


def test_switching_puts_the_pretrained_backbone_back(runs, tiny_bert_with_tokenizer):
    """While a task is on, the backbone is the pretrained one changed only as its method says; every
    take-off restores the pretrained weights exactly (checked against the checkpoint read again)."""
    from transformers import AutoModel

    pretrained = dict(AutoModel.from_pretrained(tiny_bert_with_tokenizer).named_parameters())
    server = MaskServer()
    for name in ("sent-masking", "sent-bitfit", "sent-lora", "sent-ia3"):
        server.add(runs[name], name=name)
    model = server.models[next(iter(server.models))]
    for name in ("sent-masking", "sent-bitfit", "sent-lora", "sent-ia3", "sent-bitfit", "sent-masking"):
        server.activate(name)
        weights = _base_weights(model.bert)
        assert sorted(weights) == sorted(pretrained)
        changed = sorted(n for n in weights if not torch.equal(weights[n], pretrained[n]))
        if name == "sent-masking":  # masked weights zeroed (and only zeroed), nothing else touched
            assert changed and all(n.endswith(".weight") for n in changed)
            assert all(
                torch.equal(weights[n][weights[n] != 0], pretrained[n][weights[n] != 0]) for n in changed
            )
        elif name == "sent-bitfit":  # only bias terms differ: the mask's zeros went back
            assert changed and all(n.endswith(".bias") for n in changed)
        else:  # an adapter leaves the base weights alone
            assert changed == []
    server.tasks[server.active].take_off(model)
    assert all(torch.equal(w, pretrained[n]) for n, w in _base_weights(model.bert).items())
    assert not any(task.aside_bytes() for task in server.tasks.values())


def test_predict_command_serves_a_peft_run_and_refuses_a_finetuning_one(runs, tmp_path, capsys):
    requests = tmp_path / "requests.jsonl"
    requests.write_text("\n".join(json.dumps(r) for r in _requests("sent-lora")[:3]) + "\n")
    args = [
        "predict",
        "--model-dir",
        f"sent-lora={runs['sent-lora']}",
        "--model-dir",
        str(runs["ner-bitfit"]),
    ]
    assert cli_main([*args, "--input", str(requests)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3] and all(r["task"] == "sent-lora" for r in records)
    finetuned = tmp_path / "finetuned" / "artifact"
    tiny_backbone("bert").save_pretrained(finetuned)
    task = TaskRecord("sent", "single", ("neg", "pos"))
    ArtifactRecord("finetuning", "bert", None, task).write(finetuned)
    assert cli_main(["predict", "--model-dir", str(finetuned.parent), "--input", str(requests)]) == 2
    err = capsys.readouterr().err
    assert "a finetuning run is a whole model per task" in err and err.count("\n") == 1
