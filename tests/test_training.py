"""The training loop: run directory, artifact fidelity, early stopping, resume after a kill, NaN guard,
evaluation into its own folder, every family and task kind."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_backbone, train_config

from maskbert.data import load_prepared, prepare, read_splits
from maskbert.evaluation import Predictions, evaluate_run, label_columns, predict
from maskbert.methods import load_run_model
from maskbert.training import train


def _config(model, prepared, out, **overrides):
    return train_config(model, prepared, out, **{"epochs": 2, "batch_size": 32, **overrides})


@pytest.fixture(scope="module")
def finished_run(tiny_bert_with_tokenizer, prepared, tmp_path_factory):
    """A finished one-epoch masking run, shared by the tests that only read it (or copy it first)."""
    config = _config(
        tiny_bert_with_tokenizer, prepared, tmp_path_factory.mktemp("finished") / "run", epochs=1
    )
    return config, train(config)


def _log(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _check_mask_coded(summary, run, base, out):
    """summary["mask_coded"] against what it claims, worked out without maskbert.coding: the flips are the
    1-bit artifact's masks against the seed's initial masks (the model rebuilt as training built it), and
    the bits are the coded tensors of the same masks saved coded, whose file's size they account for; the
    coded file decodes to the 1-bit artifact's masks bit for bit."""
    from maskbert.adapter import mask_file, save_masks
    from maskbert.artifact import CODED_PREFIX, HEAD_PREFIX, artifact_masks, load_artifact, read_artifact
    from maskbert.data import get_task
    from maskbert.masking import MaskingConfig, binary_masks
    from maskbert.methods import build_model

    coded = summary["mask_coded"]  # the best epoch's masks, entropy-coded against the seeded initial masks
    metadata, tensors = read_artifact(run / "artifact" / "mask.safetensors")
    trained = artifact_masks(metadata, tensors)
    masking = MaskingConfig.from_dict(metadata["masking"])
    start = binary_masks(build_model(base, get_task("synth-sentiment"), "masking", masking.seed, masking))
    assert trained.keys() == start.keys()
    flipped = sum(int((trained[n] != start[n]).sum()) for n in trained)
    weights = sum(m.numel() for m in trained.values())
    assert (coded["flipped"], coded["weights"]) == (flipped, weights) and weights == summary["masked_weights"]
    assert 0 < flipped and coded["flip_fraction"] == flipped / weights == pytest.approx(
        summary["mask_changed"]
    )
    file = mask_file(save_masks(load_run_model(run), out, base_model=base, coding="flips"))
    saved, saved_tensors = read_artifact(file)
    coded_bytes = sum(t.numel() for n, t in saved_tensors.items() if n.startswith(CODED_PREFIX))
    head_bytes = sum(
        t.numel() * t.element_size() for n, t in saved_tensors.items() if n.startswith(HEAD_PREFIX)
    )
    header = 8 + int.from_bytes(file.read_bytes()[:8], "little")  # safetensors: length, JSON header, data
    assert file.stat().st_size == header + coded_bytes + head_bytes and coded["bits"] == 8 * coded_bytes
    assert coded["bits_per_weight"] == coded["bits"] / weights < 1
    assert coded["entropy_bits"] <= coded["bits"] and len(saved_tensors) == len(trained) + len(
        saved["random_init"]
    )
    decoded = binary_masks(load_artifact(file)[0])
    assert saved["mask_coding"] == "flips" and all(torch.equal(decoded[n], trained[n]) for n in trained)


def test_masking_run_writes_its_directory_and_the_artifact_reproduces_dev(
    tiny_bert_with_tokenizer, prepared, tmp_path
):
    run = tmp_path / "run"
    summary = train(_config(tiny_bert_with_tokenizer, prepared, run, epochs=3, patience=3))
    lines = _log(run)
    assert [line["epoch"] for line in lines] == [1, 2, 3]
    scores = [line["dev_score"] for line in lines]
    assert summary["done"] and summary["epochs_run"] == 3
    assert summary["best_epoch"] == 1 + scores.index(max(scores)) and summary["best_dev_score"] == max(scores)
    assert [line["improved"] for line in lines] == [
        s > max(scores[:i], default=-1) for i, s in enumerate(scores)
    ]
    assert summary["mask_changed"] == lines[summary["best_epoch"] - 1]["mask_changed"]
    files = sorted((run / "artifact").iterdir())
    assert [f.name for f in files] == ["mask.safetensors", "maskbert.json"]
    assert summary["artifact_bytes"] == sum(f.stat().st_size for f in files) < 200_000
    _check_mask_coded(summary, run, tiny_bert_with_tokenizer, tmp_path / "coded")
    record = json.loads((run / "run.json").read_text())
    assert record["source"] == "synthetic" and record["task_kind"] == "single"
    assert (record["options"]["masked_blocks"], record["options"]["initial_sparsity"]) == ("2-3", 0.05)
    assert all(np.isfinite(line["train_loss"]) and 0 < line["mask_changed"] < 1 for line in lines)
    assert not (run / ".progress").exists()
    assert sorted(p.name for p in run.iterdir()) == [
        "artifact",
        "dev_predictions.safetensors",
        "metrics.jsonl",
        "run.json",
        "summary.json",
    ]

    saved_bytes = (run / "dev_predictions.safetensors").read_bytes()
    saved = Predictions.load(run / "dev_predictions.safetensors")
    result = evaluate_run(run, "dev", device="cpu")
    assert (run / "dev_predictions.safetensors").read_bytes() == saved_bytes  # the train output is untouched
    recomputed = Predictions.load(run / "evaluation" / "dev_predictions.safetensors")
    assert np.array_equal(recomputed.logits, saved.logits)  # the artifact is the best epoch's model
    assert result["score"] == summary["best_dev_score"]
    assert json.loads((run / "evaluation" / "dev_metrics.json").read_text()) == result


def test_evaluation_on_test_scores_the_test_split(finished_run, prepared, tmp_path):
    run = Path(finished_run[0].out_dir)
    result = evaluate_run(run, "test", out_dir=tmp_path / "scores", device="cpu")
    test = load_prepared(prepared).splits["test"]
    predictions = Predictions.load(tmp_path / "scores" / "test_predictions.safetensors")
    assert np.array_equal(predictions.labels, np.array(test["labels"]))  # test gold, not dev's
    accuracy = 100 * float((predictions.predicted_ids() == predictions.labels).mean())
    assert result["examples"] == len(test) == len(predictions.logits)
    assert result["score"] == pytest.approx(accuracy)
    assert json.loads((tmp_path / "scores" / "test_metrics.json").read_text()) == result
    assert not (run / "evaluation").exists()
    explicit = evaluate_run(
        run,
        "test",
        device="cpu",
        predictions_path=tmp_path / "p.safetensors",
        metrics_path=tmp_path / "m.json",
    )
    assert explicit == result and (tmp_path / "p.safetensors").is_file()


def test_cross_task_evaluation_maps_labels_by_name_and_refuses_other_label_sets(
    tiny_bert_with_tokenizer, finished_run, tmp_path
):
    run = tmp_path / "run"
    shutil.copytree(finished_run[0].out_dir, run)
    plain = Predictions.load(run / "dev_predictions.safetensors")
    record = json.loads((run / "run.json").read_text())
    record["label_names"] = record["label_names"][::-1]  # as if the model's outputs came in the other order
    (run / "run.json").write_text(json.dumps(record))
    evaluate_run(run, "dev", device="cpu")
    swapped = Predictions.load(run / "evaluation" / "dev_predictions.safetensors")
    assert np.array_equal(swapped.logits, plain.logits[:, ::-1])

    ner = prepare("synth-ner", tiny_bert_with_tokenizer, source="synthetic", out_dir=tmp_path / "ner")
    with pytest.raises(
        ValueError, match=r"label sets differ: .*\['positive', 'negative'\].*synth-ner.*'B-LOC'"
    ):
        evaluate_run(run, "dev", prepared_dir=ner, device="cpu")
    assert label_columns(["a", "b", "c"], ["c", "a", "b"]) == [2, 0, 1]


def test_early_stopping_keeps_the_best_epoch_not_the_last(
    tiny_bert_with_tokenizer, prepared, tmp_path, monkeypatch
):
    dev_scores = iter([50.0, 70.0, 60.0, 65.0, 90.0])  # best at epoch 2, then 2 epochs without gain
    seen = []

    def scripted_score(self, task, predicted_ids=None, all_words=False):
        seen.append(self.logits.copy())
        return next(dev_scores)

    monkeypatch.setattr(Predictions, "score", scripted_score)
    run = tmp_path / "run"
    summary = train(_config(tiny_bert_with_tokenizer, prepared, run, epochs=10, patience=2))
    monkeypatch.undo()
    assert (summary["epochs_run"], summary["best_epoch"], summary["best_dev_score"]) == (4, 2, 70.0)
    assert [line["dev_score"] for line in _log(run)] == [50.0, 70.0, 60.0, 65.0]
    assert not np.array_equal(seen[1], seen[3])
    assert np.array_equal(Predictions.load(run / "dev_predictions.safetensors").logits, seen[1])
    prep = load_prepared(prepared)
    reloaded = predict(load_run_model(run), prep.splits["dev"], prep.task, prep.pad_token_id)
    assert np.array_equal(reloaded.logits, seen[1])


def test_finished_run_is_not_retrained(finished_run):
    config, first = finished_run
    stamp = (Path(config.out_dir) / "summary.json").stat().st_mtime_ns
    assert train(config) == first
    assert (Path(config.out_dir) / "summary.json").stat().st_mtime_ns == stamp


def test_finetuning_run_updates_weights_reloads_and_records_no_masking_options(
    tiny_bert_with_tokenizer, prepared, tmp_path
):
    with pytest.raises(
        ValueError,
        match="^method 'finetuning': option 'masked_blocks' is unknown; the method takes no options$",
    ):
        _config(
            tiny_bert_with_tokenizer,
            prepared,
            tmp_path / "run",
            method="finetuning",
            options={"masked_blocks": "2-3"},
        )
    train(
        _config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", method="finetuning", lr=1e-3, epochs=1)
    )
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["options"] == {}
    model = load_run_model(tmp_path / "run")
    from transformers import AutoModel

    base = AutoModel.from_pretrained(tiny_bert_with_tokenizer)
    assert not torch.equal(
        base.encoder.layer[0].output.dense.weight, model.bert.encoder.layer[0].output.dense.weight
    )


def test_unknown_method_is_refused_by_name(tiny_bert_with_tokenizer, prepared, tmp_path):
    with pytest.raises(ValueError, match="method 'nope': expected one of masking, finetuning"):
        _config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", method="nope")


def test_max_length_must_match_the_prepared_data(tiny_bert_with_tokenizer, prepared, tmp_path):
    with pytest.raises(ValueError, match="tokenized with max_length 128, but the run asks for 64"):
        train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", max_length=64))


def test_nan_loss_stops_the_job(tiny_bert_with_tokenizer, prepared, tmp_path):
    with pytest.raises(FloatingPointError, match="loss became nan"):
        train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", method="finetuning", lr=1e30))
    assert not (tmp_path / "run" / "summary.json").exists()


def _cli_train(model, prepared, out):
    return [
        sys.executable,
        "-m",
        "maskbert.cli",
        "train",
        "--model",
        model,
        "--task",
        "synth-sentiment",
        "--method",
        "masking",
        "--seed",
        "3",
        "--lr",
        "1e-2",
        "--epochs",
        "4",
        "--patience",
        "4",
        "--prepared",
        prepared,
        "--out",
        str(out),
        "--device",
        "cpu",
    ]


def _epochs_without_time(run):
    return [{k: v for k, v in line.items() if k != "seconds"} for line in _log(run)]


def test_killed_run_resumes_to_the_same_result(tiny_bert_with_tokenizer, prepared, tmp_path):
    env = {**os.environ, "TQDM_DISABLE": "1"}
    subprocess.run(
        _cli_train(tiny_bert_with_tokenizer, prepared, tmp_path / "whole"),
        check=True,
        env=env,
        capture_output=True,
    )

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        _cli_train(tiny_bert_with_tokenizer, prepared, killed),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while (
        not (killed / ".progress" / "checkpoint.pt").exists()
        and time.time() < deadline
        and process.poll() is None
    ):
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "summary.json").exists(), "the run finished before it could be killed"
    epochs_done = len((killed / "metrics.jsonl").read_text().splitlines())
    assert 1 <= epochs_done < 4
    # a workflow manager (Snakemake) deletes the declared outputs of an interrupted job before rerunning it
    for output in ("summary.json", "run.json", "metrics.jsonl", "dev_predictions.safetensors"):
        (killed / output).unlink(missing_ok=True)
    assert not (killed / "artifact").exists()  # published only when the run finishes

    subprocess.run(
        _cli_train(tiny_bert_with_tokenizer, prepared, killed), check=True, env=env, capture_output=True
    )
    whole_summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert json.loads((killed / "summary.json").read_text()) == whole_summary
    assert _epochs_without_time(killed) == _epochs_without_time(tmp_path / "whole")
    assert np.array_equal(
        Predictions.load(killed / "dev_predictions.safetensors").logits,
        Predictions.load(tmp_path / "whole" / "dev_predictions.safetensors").logits,
    )
    assert (killed / "artifact" / "mask.safetensors").read_bytes() == (
        tmp_path / "whole" / "artifact" / "mask.safetensors"
    ).read_bytes()
    assert not (killed / ".progress").exists()


def test_tagging_run_scores_kept_words_and_reports_dropped_ones(tiny_bert_with_tokenizer, tmp_path):
    prepared_ner = str(
        prepare(
            "synth-ner",
            tiny_bert_with_tokenizer,
            source="synthetic",
            max_length=12,
            out_dir=tmp_path / "prepared",
        )
    )
    config = _config(
        tiny_bert_with_tokenizer, prepared_ner, tmp_path / "run", task="synth-ner", epochs=1, max_length=12
    )
    summary = train(config)
    result = evaluate_run(tmp_path / "run", "dev", device="cpu")
    assert result["score"] == summary["best_dev_score"]
    assert result["words_dropped"] > 0  # max_length 12 cuts the longer sentences
    assert result["score_all_words"] <= result["score"]
    predictions = Predictions.load(tmp_path / "run" / "dev_predictions.safetensors")
    assert predictions.logits.shape[0] == result["words_scored"] == len(predictions.labels)


# Tiny checkpoints with a tokenizer for each family: BERT and DistilBERT over MiniLM's wordpieces, RoBERTa
# over a byte-level BPE learned from the synthetic sentences (so pairs get no token type ids).
@pytest.fixture(scope="module")
def tiny_family_with_tokenizer(tiny_bert_with_tokenizer, tmp_path_factory):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import AutoTokenizer, RobertaTokenizerFast

    def build(family):
        path = tmp_path_factory.mktemp(f"tiny-{family}-tok")
        if family == "bert":
            return tiny_bert_with_tokenizer
        if family == "distilbert":
            tokenizer = AutoTokenizer.from_pretrained(tiny_bert_with_tokenizer)
        else:
            texts = [e["text"] for e in read_splits("synth-sentiment", "synthetic")["train"]] + SWAG_TEXTS
            bpe = ByteLevelBPETokenizer()
            bpe.train_from_iterator(
                texts, vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
            )
            bpe.save_model(str(path))
            tokenizer = RobertaTokenizerFast(
                vocab_file=str(path / "vocab.json"), merges_file=str(path / "merges.txt")
            )
        tiny_backbone(family, vocab_size=len(tokenizer)).save_pretrained(path)
        tokenizer.save_pretrained(path)
        return str(path)

    return build


SWAG_TEXTS = [
    "the man opens the door",
    "he walks into the room",
    "she picks up the phone",
    "they sit down",
    "the dog runs away",
    "someone smiles at him",
    "the car stops",
    "it starts to rain",
]


def _swag_folder(folder, rows):
    folder.mkdir(parents=True)
    fields = [
        "video-id",
        "fold-ind",
        "startphrase",
        "sent1",
        "sent2",
        "gold-source",
        "ending0",
        "ending1",
        "ending2",
        "ending3",
        "label",
    ]
    for name, count in (("train.csv", rows), ("val.csv", rows // 2)):
        with open(folder / name, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            for i in range(count):
                endings = [SWAG_TEXTS[(i + k) % len(SWAG_TEXTS)] for k in range(4)]
                writer.writerow(
                    {
                        "video-id": f"v{i}",
                        "fold-ind": i,
                        "startphrase": SWAG_TEXTS[i % 8],
                        "sent1": SWAG_TEXTS[i % 8],
                        "sent2": "then",
                        "gold-source": "gold",
                        **{f"ending{k}": e for k, e in enumerate(endings)},
                        "label": i % 4,
                    }
                )
    return folder


@pytest.mark.parametrize(
    "family,task,method",
    [
        ("roberta", "synth-sentiment", "masking"),
        ("distilbert", "synth-sentiment", "finetuning"),
        ("bert", "swag", "masking"),
        ("roberta", "swag", "finetuning"),
        ("distilbert", "swag", "masking"),
    ],
)
def test_train_and_predict_every_family_and_multiple_choice(
    tiny_family_with_tokenizer, tmp_path, family, task, method
):
    model = tiny_family_with_tokenizer(family)
    if task == "swag":
        prepared_dir = prepare(
            "swag",
            model,
            source="local",
            path=_swag_folder(tmp_path / "swag", 16),
            out_dir=tmp_path / "prepared",
        )
    else:
        prepared_dir = prepare(task, model, source="synthetic", out_dir=tmp_path / "prepared")
    run = tmp_path / "run"
    summary = train(
        _config(
            model,
            str(prepared_dir),
            run,
            task=task,
            method=method,
            epochs=1,
            lr=1e-2 if method == "masking" else 1e-3,
        )
    )
    saved = Predictions.load(run / "dev_predictions.safetensors")
    prep = load_prepared(prepared_dir)
    dev = prep.splits["dev"]
    assert saved.logits.shape == (len(dev), 4 if task == "swag" else 2)
    reloaded = predict(load_run_model(run), dev, prep.task, prep.pad_token_id)
    assert np.allclose(reloaded.logits, saved.logits, atol=1e-5)
    assert evaluate_run(run, "dev", device="cpu")["score"] == pytest.approx(summary["best_dev_score"])


@pytest.mark.parametrize(
    ("field", "value"), [("batch_size", 0), ("epochs", 0), ("lr", -1e-3), ("max_length", 0)]
)
def test_a_non_positive_setting_is_refused_naming_it(
    tiny_bert_with_tokenizer, prepared, tmp_path, field, value
):
    with pytest.raises(ValueError, match=f"^{field} {value}: expected a positive number$"):
        _config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", **{field: value})
    assert not (tmp_path / "run").exists()
