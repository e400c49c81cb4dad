"""BitFit and the peft tuners (lora, ia3, peft): options and their refusals, artifacts that reproduce the
model and hold exactly the per-task storage, training, resume after a kill, evaluate, ensembles, bad input
through the command line and the workflow."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from conftest import task_view, train_config
from safetensors import safe_open
from workflow_runs import ROOT, snakemake

import maskbert.training as training
from maskbert.cli import main as cli_main
from maskbert.data import load_prepared, prepare
from maskbert.ensemble import evaluate_ensemble_files
from maskbert.evaluation import Predictions, evaluate_run
from maskbert.memory import memory_table
from maskbert.methods import get_method
from maskbert.methods.peft_tuners import _meta_peft_counts, head_modules
from maskbert.modeling import load_task_model
from maskbert.training import train

# --- options ---


def test_named_entries_spell_their_settings_per_family(tiny_model_dirs):
    lora = get_method("lora")
    bert = lora.resolve_options({"r": "4"}, tiny_model_dirs["bert"])  # text from a command line -> int
    assert bert == {
        "type": "LORA",
        "lora_alpha": 8,
        "lora_dropout": 0.0,
        "r": 4,
        "target_modules": ["query", "value"],
    }
    assert lora.resolve_options({}, tiny_model_dirs["distilbert"])["target_modules"] == ["q_lin", "v_lin"]
    assert lora.resolve_options(bert, tiny_model_dirs["bert"]) == bert  # resolving twice changes nothing
    assert lora.setting_name(bert).startswith("lora_r4_opt-")
    assert lora.setting_name(bert) != lora.setting_name(lora.resolve_options({}, tiny_model_dirs["bert"]))
    ia3 = get_method("ia3").resolve_options({}, tiny_model_dirs["roberta"])
    assert ia3["feedforward_modules"] == r"roberta\.encoder\.layer\.\d+\.(output\.dense)"
    generic = get_method("peft").resolve_options({"type": "lora", "r": 2})
    assert generic == {"type": "LORA", "r": 2} and get_method("peft").setting_name(generic) == "lora_r2"
    assert get_method("bitfit").resolve_options(None) == {}


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert"])
@pytest.mark.parametrize("method", ["lora", "ia3"])
def test_named_entries_defaults_pass_peft_on_every_family(tiny_model_dirs, family, method):
    """check_options trusts a named entry's own defaults without building a model: here peft checks them."""
    options = get_method(method).resolve_options({}, tiny_model_dirs[family])
    counts = _meta_peft_counts(tiny_model_dirs[family], "single", 2, json.dumps(options, sort_keys=True))
    assert counts["adapter"] > 0 and counts["head"] > 0


def test_planning_the_named_entries_defaults_imports_no_peft(tiny_model_dirs):
    """The workflow resolves and checks every method's options to plan; with the shipped defaults that must
    not import peft (and torch with it), which would add seconds to every `snakemake -n`."""
    code = (
        "import sys, json; from maskbert.methods import get_method\n"
        f"path = {tiny_model_dirs['roberta']!r}\n"
        "for name in ('lora', 'ia3'):\n"
        "    method = get_method(name); method.check_options(method.resolve_options({}, path), path)\n"
        "print(json.dumps(sorted(m for m in ('peft', 'torch') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
    with pytest.raises(ValueError, match="option 'r' 0: refused by peft"):  # changed options still checked
        get_method("lora").check_options(
            get_method("lora").resolve_options({"r": 0}, tiny_model_dirs["bert"]), tiny_model_dirs["bert"]
        )


@pytest.mark.parametrize(
    "method,options,message",
    [
        ("peft", {"r": 8}, "^method 'peft': option 'type' is missing"),
        (
            "peft",
            {"type": "NOPE"},
            "^method 'peft': option 'type' \"NOPE\": not a peft tuner type; expected one of",
        ),
        (
            "lora",
            {"rank": 8},
            "^method 'lora': option 'rank' is unknown; expected an argument of peft's LoraConfig",
        ),
        ("lora", {"modules_to_save": ["x"]}, "^method 'lora': option 'modules_to_save' is not settable"),
        ("lora", {"type": "IA3"}, "^method 'lora': option 'type' \"IA3\": this method is LORA"),
        (
            "lora",
            {"r": 0},
            "^method 'lora': option 'r' 0: refused by peft on model .*`r` should be a positive",
        ),
        ("lora", {"r": "x"}, "^method 'lora': option 'r' \"x\": expected an integer$"),
        (
            "lora",
            {"use_rslora": "no way"},
            "^method 'lora': option 'use_rslora' \"no way\": expected a boolean",
        ),
        (
            "lora",
            {"lora_dropout": "nan"},
            "^method 'lora': option 'lora_dropout' \"nan\": expected a finite number",
        ),
        (
            "peft",
            {"type": "PROMPT_TUNING"},
            "^method 'peft': option 'type' \"PROMPT_TUNING\": a prompt-learning",
        ),
        (
            "lora",
            {"target_modules": ["nope"]},
            "^method 'lora': option 'target_modules' \\[\"nope\"\\]: refused",
        ),
        ("ia3", {"target_modules": "nothing"}, "^method 'ia3': option 'target_modules' \"nothing\""),
        ("bitfit", {"r": 8}, "^method 'bitfit': option 'r' is unknown; the method takes no options$"),
    ],
)
def test_bad_options_are_refused_naming_the_option(tiny_model_dirs, method, options, message):
    with pytest.raises(ValueError, match=message) as refused:
        resolved = get_method(method).resolve_options(options, tiny_model_dirs["bert"])
        get_method(method).check_options(resolved, tiny_model_dirs["bert"])
    assert "\n" not in str(refused.value)


# --- artifacts: the model comes back, and they hold exactly the per-task storage ---


@pytest.mark.parametrize(
    "family,kind,method,head",
    [
        ("bert", "single", "bitfit", ["classifier"]),
        ("bert", "tagging", "lora", ["classifier"]),
        ("roberta", "single", "lora", ["classifier"]),
        ("distilbert", "multiple_choice", "ia3", ["classifier", "pre_classifier"]),
        ("bert", "multiple_choice", "ia3", ["classifier"]),
        ("distilbert", "tagging", "bitfit", ["classifier"]),
        ("roberta", "single", "peft", ["classifier"]),
    ],
)
def test_artifact_reproduces_the_model_and_holds_the_task_storage(
    tiny_model_dirs, tmp_path, family, kind, method, head
):
    base = tiny_model_dirs[family]
    labels = 1 if kind == "multiple_choice" else 3
    task = task_view(kind, labels=3)
    options = {"type": "LOHA", "r": 2, "target_modules": ["query", "key"]} if method == "peft" else None
    resolved = get_method(method).resolve_options(options, base)
    model = get_method(method).build(base, task, 1, resolved)
    assert head_modules(load_task_model(base, task, 1)) == head  # peft's modules_to_save
    trainable = get_method(method).trainable_parameters(model)
    with torch.no_grad():  # stands in for training: every trainable value moves
        for parameter in trainable.values():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    record = {
        "model": base,
        "task": "toy",
        "task_kind": kind,
        "label_names": list(task.label_names),
        "seed": 1,
    }
    (tmp_path / "artifact").mkdir()
    saved = get_method(method).save(model, tmp_path / "artifact", record)
    loaded = get_method(method).load(tmp_path / "artifact")
    shape = (2, 4, 6) if kind == "multiple_choice" else (2, 6)
    inputs = {
        "input_ids": torch.randint(5, 100, shape),
        "attention_mask": torch.ones(shape, dtype=torch.long),
    }
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(**inputs).logits, loaded(**inputs).logits, atol=1e-6)
        assert not torch.allclose(
            get_method(method).build(base, task, 1, resolved).eval()(**inputs).logits,
            loaded(**inputs).logits,
            atol=1e-4,
        )
    # what the artifact's tensors hold is what task_storage says a task stores, parameter for parameter
    tensor_file = next(f for f in (tmp_path / "artifact").iterdir() if f.suffix == ".safetensors")
    with safe_open(str(tensor_file), framework="pt") as handle:
        stored = sum(handle.get_tensor(k).numel() for k in handle.keys())
    items = get_method(method).task_storage(base, kind, labels, resolved)
    assert stored == sum(item.params for item in items if item.shared is None)
    assert stored == sum(p.numel() for p in trainable.values())
    assert 4 * stored < saved["artifact_bytes"] < 4 * stored + 8_000  # + headers, config and metadata


def test_artifact_for_another_base_is_refused(tiny_model_dirs, tiny_bert_with_tokenizer, tmp_path):
    task = task_view("single", labels=2)
    for method in ("bitfit", "lora"):
        model = get_method(method).build(tiny_model_dirs["bert"], task, 1)
        record = {"model": tiny_model_dirs["bert"], "task": "toy", "task_kind": "single"}
        record.update(label_names=["L0", "L1"], seed=1)
        (tmp_path / method).mkdir()
        get_method(method).save(model, tmp_path / method, record)
        with pytest.raises(
            ValueError, match=f"{method}/maskbert.json: made for base model '.*' \\(fingerprint"
        ):
            get_method(method).load(tmp_path / method, base_model=tiny_bert_with_tokenizer)


def test_memory_rows_for_bert_base():
    """Table 8-style rows from the shipped config: BitFit stores every bias of BERT-base (pooler and
    LayerNorm included) plus a 2-class head; LoRA r=8 on W_q, W_v: 12 blocks x 2 x 2 x 768 x 8."""
    bitfit = memory_table("bert-base-uncased", {"MRPC": 2}, method="bitfit")
    biases = 12 * (768 * 4 + 768 + 3072 + 768 + 768) + 768 + 768  # per block; embeddings' LayerNorm, pooler
    assert bitfit["params"].tolist() == [109_482_240, biases, 768 * 2 + 2]
    lora = memory_table("bert-base-uncased", {"MRPC": 2}, method="lora")
    assert lora["params"].tolist() == [109_482_240, 12 * 2 * 2 * 768 * 8, 768 * 2 + 2]
    assert lora["memory_kb"].iloc[1] == pytest.approx(4 * 294_912 / 1000)


# --- training, resume, evaluate, ensembles ---


def _config(model, prepared, out, method, **overrides):
    return train_config(model, prepared, out, method=method, **{"epochs": 3, "patience": 3, **overrides})


def _epochs(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


@pytest.mark.parametrize("method", ["bitfit", "lora"])
def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_result(
    tiny_bert_with_tokenizer, prepared, tmp_path, monkeypatch, method
):
    whole = train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "whole", method))
    assert whole["epochs_run"] == 3 and whole["artifact_bytes"] == sum(
        f.stat().st_size for f in (tmp_path / "whole" / "artifact").iterdir()
    )

    real_epoch = training._train_epoch

    def killed_in_epoch_2(model, optimizer, rows, pad, cfg, epoch, *rest):
        if epoch == 2:  # dies after one step of epoch 2, as a SIGKILL would, leaving epoch 1's checkpoint
            real_epoch(model, optimizer, rows[: cfg.batch_size], pad, cfg, epoch, *rest)
            raise KeyboardInterrupt
        return real_epoch(model, optimizer, rows, pad, cfg, epoch, *rest)

    killed = tmp_path / "killed"
    monkeypatch.setattr(training, "_train_epoch", killed_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(_config(tiny_bert_with_tokenizer, prepared, killed, method))
    monkeypatch.undo()
    assert (killed / ".progress" / "checkpoint.pt").is_file() and not (killed / "summary.json").exists()
    for output in ("run.json", "metrics.jsonl"):  # Snakemake deletes an interrupted job's outputs
        (killed / output).unlink()

    resumed = train(_config(tiny_bert_with_tokenizer, prepared, killed, method))
    assert resumed == whole and _epochs(killed) == _epochs(tmp_path / "whole")
    for file in (tmp_path / "whole" / "artifact").iterdir():
        assert (killed / "artifact" / file.name).read_bytes() == file.read_bytes(), file.name
    assert np.array_equal(
        Predictions.load(killed / "dev_predictions.safetensors").logits,
        Predictions.load(tmp_path / "whole" / "dev_predictions.safetensors").logits,
    )
    assert not (killed / ".progress").exists()


def test_runs_evaluate_to_their_dev_predictions_and_ensemble(tiny_bert_with_tokenizer, prepared, tmp_path):
    task = load_prepared(prepared).task
    runs = {}
    for method in ("bitfit", "lora", "ia3"):
        runs[method] = tmp_path / method
        summary = train(_config(tiny_bert_with_tokenizer, prepared, runs[method], method, epochs=1))
        options = json.loads((runs[method] / "run.json").read_text())["options"]
        items = get_method(method).task_storage(tiny_bert_with_tokenizer, "single", 2, options)
        assert summary["trainable_parameters"] == sum(item.params for item in items if item.shared is None)
        result = evaluate_run(runs[method], "dev", device="cpu")
        assert result["score"] == pytest.approx(summary["best_dev_score"])
        assert np.allclose(
            Predictions.load(runs[method] / "evaluation" / "dev_predictions.safetensors").logits,
            Predictions.load(runs[method] / "dev_predictions.safetensors").logits,
            atol=1e-5,
        )
    record = json.loads((runs["lora"] / "run.json").read_text())
    assert record["options"]["target_modules"] == ["query", "value"]
    files = [runs[m] / "dev_predictions.safetensors" for m in runs]
    ensemble = evaluate_ensemble_files(files, task)
    logits = sum(Predictions.load(f).logits for f in files)
    expected = Predictions.load(files[0]).score(task, logits.argmax(-1))
    assert ensemble["methods"]["logits"]["dev"] == pytest.approx(expected)


# --- bad input before any job: the command line and the workflow ---


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--method", "nope"], "method 'nope': expected one of masking, finetuning, bitfit, lora, ia3, peft"),
        (["--method", "peft", "--option", "type=LORAX"], '--option type: "LORAX": not a peft tuner type'),
        (["--method", "lora", "--option", "rr=8"], "--option rr: is unknown; expected an argument of peft's"),
        (["--method", "lora", "--option", "r=-1"], "--option r: -1: refused by peft"),
        (
            ["--method", "lora", "--option", "r=two"],
            "--option r: \"two\": expected an integer (method 'lora')",
        ),
        (
            ["--method", "masking", "--option", "mask_pooler=maybe"],
            '--option mask_pooler: "maybe": expected a',
        ),
        (
            ["--method", "masking", "--option", "initial_sparsity=abc"],
            '--option initial_sparsity: "abc": expected',
        ),
        (
            ["--method", "masking", "--option", "layer_types=Q,X"],
            '--option layer_types: ["Q", "X"]: expected',
        ),
        (
            ["--method", "peft", "--option", "type=PREFIX_TUNING"],
            '--option type: "PREFIX_TUNING": a prompt-learning',
        ),
        (
            ["--method", "lora", "--options", '{"target_modules": ["q"]}'],
            '--option target_modules: ["q"]: refused',
        ),
    ],
)
def test_the_command_line_refuses_bad_methods_in_one_line(
    tiny_bert_with_tokenizer, prepared, tmp_path, capsys, flags, message
):
    args = ["train", "--model", tiny_bert_with_tokenizer, "--task", "synth-sentiment", "--seed", "1"]
    args += ["--lr", "1e-2", "--prepared", prepared, "--out", str(tmp_path / "run"), *flags]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"maskbert train: error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "method,options,message",
    [
        (
            "lora",
            {"target_modules": ["nope"]},
            "config key 'method_options.lora.target_modules': [\"nope\"]: refused by peft",
        ),
        (
            "peft",
            {"type": "LORAX"},
            "config key 'method_options.peft.type': \"LORAX\": not a peft tuner type",
        ),
    ],
)
def test_the_workflow_refuses_bad_peft_options_before_any_job(tmp_path, method, options, message):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config.update(
        models=["bert-base-uncased"],
        tasks=["mrpc"],
        methods=["masking", method],
        seeds=[1],
        method_options={method: options},
        sweeps={"initial_sparsity": None, "layerwise": None},
    )
    config["learning_rates"] = {"masking": [1e-4], method: [1e-3], "max_extensions": 0}
    config["memory"] = {"models": ["bert-base-uncased"], "tasks": ["mrpc"]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    bad = snakemake("-n", "tables", "--cores", "1", "--configfile", str(path), cwd=tmp_path, check=False)
    assert bad.returncode != 0
    assert message in bad.stdout + bad.stderr and "(model bert-base-uncased)" in bad.stdout + bad.stderr
    assert not (tmp_path / "runs").exists()
    shutil.rmtree(tmp_path / ".snakemake", ignore_errors=True)


def test_lora_trains_a_distilbert_on_its_own_layer_names(tiny_bert_with_tokenizer, tmp_path):
    """DistilBERT's LoRA targets are q_lin/v_lin and its head pre_classifier + classifier: the run records
    them, trains them, and its artifact evaluates to the run's dev predictions."""
    from conftest import tiny_backbone
    from transformers import AutoTokenizer

    model = tmp_path / "tiny-distilbert"
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_with_tokenizer)
    tiny_backbone("distilbert", vocab_size=len(tokenizer)).save_pretrained(model)
    tokenizer.save_pretrained(model)
    prepared = str(prepare("synth-sentiment", str(model), source="synthetic", out_dir=tmp_path / "data"))
    run = tmp_path / "run"
    summary = train(_config(str(model), prepared, run, "lora", epochs=1))
    options = json.loads((run / "run.json").read_text())["options"]
    assert options["target_modules"] == ["q_lin", "v_lin"]
    # 4 blocks x (q_lin, v_lin) x (A: 8x32, B: 32x8), + pre_classifier 32x32+32 and classifier 32x2+2
    assert summary["trainable_parameters"] == 4 * 2 * 2 * 8 * 32 + 32 * 32 + 32 + 32 * 2 + 2
    assert evaluate_run(run, "dev", device="cpu")["score"] == pytest.approx(summary["best_dev_score"])
