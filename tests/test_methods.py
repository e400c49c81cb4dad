"""The method registry: one object per method, and a new method is one class plus its registration."""

import json

import pytest
import torch

from maskbert.data import prepare
from maskbert.memory import accumulated_memory, ensemble_memory_mb
from maskbert.methods import METHODS, Method, StorageItem, get_method, method_options
from maskbert.methods.base import FP32_BYTES, artifact_bytes
from maskbert.modeling import HEAD_CLASSES, load_task_model
from maskbert.rundir import load_run_model
from maskbert.training import TrainConfig, train


class BitFit(Method):
    """Bias-only finetuning (Ben Zaken et al., 2022), as a user would add it: biases and the head train."""

    name = "bitfit"

    def build(self, model_name, task, seed, options=None):
        model = load_task_model(model_name, task, seed)
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(name.endswith(".bias") or name in model.maskbert_random_init)
        return model

    def save(self, model, artifact_dir, record):
        model.save_pretrained(artifact_dir)
        return {"artifact_bytes": artifact_bytes(artifact_dir)}

    def load(self, artifact_dir, record, device="cpu"):
        return HEAD_CLASSES[record["task_kind"]].from_pretrained(artifact_dir).to(device).eval()

    def task_storage(self, sizes, head_outputs):
        return [
            StorageItem("pretrained model", sizes["pretrained_params"], FP32_BYTES, shared="base"),
            StorageItem("biases and head", 100_000 + sizes["hidden_size"] * head_outputs, FP32_BYTES),
        ]


def test_registry_names_the_known_methods():
    assert list(METHODS) == ["masking", "finetuning"]
    assert get_method("masking").name == "masking"
    with pytest.raises(ValueError, match="^method 'lora': expected one of masking, finetuning$"):
        get_method("lora")
    assert method_options() == ("masked_blocks", "initial_sparsity")
    assert get_method("masking").resolve_options({"initial_sparsity": None, "masked_blocks": "2-3"}) == {
        "masked_blocks": "2-3",
        "initial_sparsity": 0.05,
    }
    assert get_method("finetuning").resolve_options({"initial_sparsity": 0.1}) == {}


def test_a_new_method_is_one_class_and_its_registration(tiny_bert_with_tokenizer, tmp_path, monkeypatch):
    monkeypatch.setitem(METHODS, "bitfit", BitFit())
    prepared = prepare(
        "synth-sentiment", tiny_bert_with_tokenizer, source="synthetic", out_dir=tmp_path / "data"
    )
    run = tmp_path / "run"
    summary = train(
        TrainConfig(
            model=tiny_bert_with_tokenizer,
            task="synth-sentiment",
            method="bitfit",
            seed=1,
            lr=1e-2,
            out_dir=str(run),
            epochs=1,
            prepared_dir=str(prepared),
            device="cpu",
        )
    )
    model = load_run_model(run)
    biases = sum(p.numel() for n, p in model.named_parameters() if n.endswith(".bias"))
    assert biases < summary["trainable_parameters"] < biases + 2 * 32 + 2  # + the classifier's weight
    record = json.loads((run / "run.json").read_text())
    assert (record["method"], record["masked_blocks"], record["initial_sparsity"]) == ("bitfit", None, None)
    base = load_task_model(
        tiny_bert_with_tokenizer, type("T", (), {"kind": "single", "label_names": ("a", "b")}), 1
    )
    layer = "bert.encoder.layer.0.output.dense"
    assert torch.equal(model.get_submodule(layer).weight, base.get_submodule(layer).weight)
    assert not torch.equal(model.get_submodule(layer).bias, base.get_submodule(layer).bias)
    # the memory accounting asks the method what it stores
    rows = accumulated_memory("bert-base-uncased", {"MRPC": 2, "SST2": 2}, methods=("bitfit",))
    assert rows["bitfit_params"].diff().iloc[1] == 100_000 + 768 * 2
    assert ensemble_memory_mb("bert-base-uncased", 2, 2, "bitfit") == pytest.approx(
        (4 * 109_482_240 + 2 * 4 * (100_000 + 1_536)) / 1e6
    )
