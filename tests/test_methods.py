"""The method registry: one object per method, and a new method is one class plus its registration."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
import yaml
from workflow_runs import ROOT, job_counts, snakemake

from maskbert.cli import main as cli_main
from maskbert.data import prepare, read_splits
from maskbert.evaluation import Predictions, evaluate_run
from maskbert.memory import accumulated_memory, ensemble_memory_mb
from maskbert.methods import METHODS, get_method, load_run_model, register
from maskbert.modeling import load_task_model
from maskbert.training import TrainConfig, train

# A method as a user would write it outside the package: every bias, a LayerNorm of choice and the head
# train; its one option says whether LayerNorm weights train too. The module text is also imported by the
# workflow in a subprocess (config key `method_modules`), so it is kept as source.
TOY_METHOD = textwrap.dedent(
    """
    from dataclasses import dataclass

    from maskbert.methods import register
    from maskbert.methods.base import FP32_BYTES, Method, StorageItem


    @dataclass
    class ToyBiasOptions:
        train_layernorm: bool = False


    class ToyBias(Method):
        name = "toy-bias"
        options_class = ToyBiasOptions

        def setting_name(self, options):
            return "ln" if options["train_layernorm"] else "biases"

        def build(self, model_name, task, seed, options=None):
            from maskbert.modeling import load_task_model

            options = ToyBiasOptions(**(options or {}))
            model = load_task_model(model_name, task, seed)
            for name, parameter in model.named_parameters():
                trains = name.endswith(".bias") or name in model.maskbert.random_init
                parameter.requires_grad_(trains or (options.train_layernorm and "LayerNorm" in name))
            return model

        def task_storage(self, model, kind, head_outputs, options=None):
            from maskbert.sizes import model_sizes

            sizes = model_sizes(model, kind=kind)
            return [
                StorageItem("pretrained", sizes["pretrained_params"], FP32_BYTES, shared="base"),
                StorageItem("biases and head", 100_000 + sizes["hidden_size"] * head_outputs, FP32_BYTES),
            ]


    if "toy-bias" not in __import__("maskbert.methods").methods.METHODS:
        register(ToyBias())
    """
)


@pytest.fixture
def toy_method(tmp_path, monkeypatch):
    """The toy method's module importable as `toy_methods`, registered for this test only."""
    (tmp_path / "toy_methods.py").write_text(TOY_METHOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.delitem(METHODS, "toy-bias", raising=False)
    import importlib
    import sys

    sys.modules.pop("toy_methods", None)
    module = importlib.import_module("toy_methods")
    yield module
    METHODS.pop("toy-bias", None)
    sys.modules.pop("toy_methods", None)


def test_registry_names_the_known_methods():
    assert {"masking", "finetuning"} <= set(METHODS)
    assert get_method("masking").name == "masking"
    with pytest.raises(ValueError, match="^method 'nope': expected one of masking, finetuning"):
        get_method("nope")
    with pytest.raises(ValueError, match="is registered already"):
        register(get_method("masking").__class__())


def test_options_resolve_to_json_and_name_the_setting():
    masking = get_method("masking")
    resolved = masking.resolve_options({"initial_sparsity": "0.1"}, "bert-base-uncased")
    assert resolved["masked_blocks"] == "2-11" and resolved["initial_sparsity"] == 0.1  # text read as float
    assert json.loads(json.dumps(resolved)) == resolved and "seed" not in resolved
    assert masking.setting_name(resolved) == "blocks2-11_sparsity0.1"
    other = masking.resolve_options({"threshold": 0.02}, "bert-base-uncased")
    assert masking.setting_name(other).startswith("blocks2-11_sparsity0.05_opt-")
    assert masking.setting_name(other) != masking.setting_name(
        masking.resolve_options({}, "bert-base-uncased")
    )
    with pytest.raises(
        ValueError, match="^method 'masking': option 'blocks' is unknown; expected one of masked"
    ):
        masking.resolve_options({"blocks": "2-5"})
    with pytest.raises(ValueError, match=r"masked blocks \[12\] do not exist"):
        masking.resolve_options({"masked_blocks": "2-12"}, "bert-base-uncased")
    finetuning = get_method("finetuning")
    assert finetuning.resolve_options(None) == {} and finetuning.setting_name({}) == "full"
    with pytest.raises(
        ValueError, match="^method 'finetuning': option 'r' is unknown; the method takes no options$"
    ):
        finetuning.resolve_options({"r": 8})


def test_a_new_method_is_one_class_and_its_registration(
    toy_method, tiny_bert_with_tokenizer, tmp_path, capsys
):
    prepared = prepare(
        "synth-sentiment", tiny_bert_with_tokenizer, source="synthetic", out_dir=tmp_path / "data"
    )
    run = tmp_path / "run"
    summary = train(
        TrainConfig(
            model=tiny_bert_with_tokenizer,
            task="synth-sentiment",
            method="toy-bias",
            seed=1,
            lr=1e-2,
            out_dir=str(run),
            epochs=1,
            prepared_dir=str(prepared),
            device="cpu",
            options={"train_layernorm": True},
        )
    )
    model = load_run_model(run)
    named = dict(model.named_parameters())
    biases = sum(p.numel() for n, p in named.items() if n.endswith(".bias"))
    layernorm = sum(p.numel() for n, p in named.items() if "LayerNorm" in n and n.endswith(".weight"))
    assert summary["trainable_parameters"] == biases + layernorm + 32 * 2  # + the classifier's weight
    record = json.loads((run / "run.json").read_text())
    assert (record["method"], record["options"]) == ("toy-bias", {"train_layernorm": True})
    base = load_task_model(
        tiny_bert_with_tokenizer, type("T", (), {"kind": "single", "label_names": ("a", "b")}), 1
    )
    layer = "bert.encoder.layer.0.output.dense"
    assert torch.equal(model.get_submodule(layer).weight, base.get_submodule(layer).weight)
    assert not torch.equal(model.get_submodule(layer).bias, base.get_submodule(layer).bias)
    # its artifact is the default one (no save or load of its own): its trained tensors and its record
    assert sorted(p.name for p in (run / "artifact").iterdir()) == ["maskbert.json", "toy-bias.safetensors"]
    # `maskbert predict` serves it on the shared backbone, answering as `maskbert evaluate` predicts
    evaluate_run(run, "dev", device="cpu")
    expected = torch.from_numpy(Predictions.load(run / "evaluation" / "dev_predictions.safetensors").logits)
    texts = [row["text"] for row in read_splits("synth-sentiment", "synthetic")["dev"][:12]]
    requests = tmp_path / "requests.jsonl"
    requests.write_text("".join(json.dumps({"task": "toy", "text": text}) + "\n" for text in texts))
    assert cli_main(["predict", "--model-dir", f"toy={run}", "--input", str(requests)]) == 0
    output = capsys.readouterr().out
    answers = [json.loads(line) for line in output.splitlines()]
    got = torch.tensor([list(answer["probabilities"].values()) for answer in answers])
    assert torch.allclose(got, expected[: len(texts)].softmax(-1), atol=2e-6)
    # a fresh `maskbert predict` process registers it from the module the artifact's record names
    assert json.loads((run / "artifact" / "maskbert.json").read_text())["module"] == "toy_methods"
    command = [sys.executable, "-m", "maskbert.cli", "predict", "--model-dir", f"toy={run}", "--input"]
    fresh = subprocess.run([*command, str(requests)], capture_output=True, text=True, check=True)
    assert fresh.stdout == output
    # the memory accounting asks the method what it stores
    rows = accumulated_memory("bert-base-uncased", {"MRPC": 2, "SST2": 2}, methods=("toy-bias",))
    assert rows["toy-bias_params"].diff().iloc[1] == 100_000 + 768 * 2
    assert ensemble_memory_mb("bert-base-uncased", 2, 2, "toy-bias") == pytest.approx(
        (4 * 109_482_240 + 2 * 4 * (100_000 + 1_536)) / 1e6
    )


def test_the_command_line_passes_a_new_methods_options(
    toy_method, tiny_bert_with_tokenizer, tmp_path, capsys
):
    prepared = prepare(
        "synth-sentiment", tiny_bert_with_tokenizer, source="synthetic", out_dir=tmp_path / "data"
    )
    args = ["train", "--model", tiny_bert_with_tokenizer, "--task", "synth-sentiment", "--method", "toy-bias"]
    args += ["--seed", "1", "--lr", "1e-2", "--epochs", "1", "--prepared", str(prepared), "--device", "cpu"]
    assert cli_main([*args, "--out", str(tmp_path / "run"), "--option", "train_layernorm=true"]) == 0
    assert json.loads((tmp_path / "run" / "run.json").read_text())["options"] == {"train_layernorm": True}
    assert cli_main([*args, "--out", str(tmp_path / "bad"), "--option", "rank=8"]) == 2
    assert (
        "error: --option rank: is unknown; expected one of train_layernorm (method 'toy-bias')\n"
        == (capsys.readouterr().err.split("train: ", 1)[1])
    )
    assert not (tmp_path / "bad" / "run.json").exists()


def test_a_method_registered_by_a_config_module_gets_its_jobs(toy_method, tmp_path):
    """The workflow knows a method from the registry alone: its module named in `method_modules`, its grid
    and options in the config; nothing in rules/ or workflow_scripts/ names it."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config.update(
        models=["bert-base-uncased"],
        tasks=["mrpc", "rte"],
        methods=["masking", "toy-bias"],
        seeds=[1, 2],
        method_modules=["toy_methods"],
        method_options={"toy-bias": {"train_layernorm": True}},
        sweeps={"initial_sparsity": None, "layerwise": None},
        comparison=None,
    )
    config["learning_rates"] = {"masking": [1e-4], "toy-bias": [1e-4, 1e-3, 1e-2], "max_extensions": 0}
    config["memory"] = {"models": ["bert-base-uncased"], "tasks": ["mrpc"]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake("-n", "tables", "--cores", "1", "--configfile", str(path), cwd=tmp_path)
    assert job_counts(proc.stdout)["train"] == 2 * 2 * 1 + 2 * 2 * 3  # masking 1 rate, toy-bias 3 rates
    assert proc.stdout.count("runs/bert-base-uncased/mrpc/toy-bias/ln/lr0.001/seed2") >= 1
    # an unknown option of the new method is refused before any job, naming the key
    config["method_options"] = {"toy-bias": {"rank": 8}}
    path.write_text(yaml.safe_dump(config))
    bad = snakemake("-n", "tables", "--cores", "1", "--configfile", str(path), cwd=tmp_path, check=False)
    assert bad.returncode != 0
    assert (
        "config key 'method_options.toy-bias.rank': is unknown; expected one of train_layernorm (model bert-base-uncased)"
        in (bad.stdout + bad.stderr)
    )
    # a method that no module registers is refused by the schema's enum, which the registry fills
    config.update(method_modules=[], method_options={})
    path.write_text(yaml.safe_dump(config))
    bad = snakemake("-n", "tables", "--cores", "1", "--configfile", str(path), cwd=tmp_path, check=False)
    assert bad.returncode != 0 and "config key 'methods.1'" in bad.stdout + bad.stderr


@pytest.mark.parametrize(
    "options,option,problem",
    [
        ({"mask_pooler": "maybe"}, "mask_pooler", '"maybe": expected a boolean (true or false)'),
        ({"mask_pooler": 0}, "mask_pooler", "0: expected a boolean (true or false)"),
        ({"initial_sparsity": "abc"}, "initial_sparsity", '"abc": expected a number'),
        ({"initial_sparsity": float("inf")}, "initial_sparsity", "Infinity: expected a finite number"),
        ({"initial_sparsity": 1.5}, "initial_sparsity", "1.5: expected a fraction in (0, 1)"),
        ({"threshold": True}, "threshold", "true: expected a number"),
        ({"layer_types": ["Q", "P"]}, "layer_types", '["Q", "P"]: expected some of K, Q, V, AO, I, O'),
    ],
)
def test_options_are_typed_strictly_in_the_library_memory_and_the_config_check(options, option, problem):
    """One converter: the library names the option, `maskbert memory` as `--option`, the workflow's config
    check as `method_options.<method>.<option>`; all on one line."""
    from reproduction.grid import configured_options
    from reproduction.workflow_config import OptionError

    with pytest.raises(OptionError) as refused:
        get_method("masking").resolve_options(options, "bert-base-uncased")
    assert str(refused.value) == f"method 'masking': option '{option}' {problem}"
    code = cli_main(["memory", "--method", "masking", "--options", json.dumps(options)])
    assert code == 2
    cfg = {"models": ["bert-base-uncased"], "method_options": {"masking": options}}
    with pytest.raises(OptionError) as in_config:
        configured_options(cfg, "bert-base-uncased", "masking", check=True)
    assert in_config.value.in_config("method_options.masking") == (
        f"config key 'method_options.masking.{option}': {problem}"
    )


def test_yaml_booleans_and_text_read_as_their_type_and_memory_refuses_what_train_refuses(capsys):
    masking = get_method("masking")
    assert masking.resolve_options({"mask_pooler": "no", "mask_classifier": "True"})["mask_pooler"] is False
    assert masking.resolve_options({"initial_sparsity": "0.25"})["initial_sparsity"] == 0.25
    assert cli_main(["memory", "--method", "masking", "--option", "mask_pooler=no"]) == 0
    capsys.readouterr()
    assert cli_main(["memory", "--method", "masking", "--option", "masked_blocks=2-40"]) == 2
    err = capsys.readouterr().err
    assert err.startswith('maskbert memory: error: --option masked_blocks: "2-40": ') and err.count("\n") == 1
