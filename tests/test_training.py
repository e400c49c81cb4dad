"""The training loop: run directory, artifact fidelity, resume after a kill, NaN guard, finetuning."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from maskbert.data import prepare
from maskbert.evaluation import Predictions, evaluate_run
from maskbert.rundir import load_run_model
from maskbert.training import TrainConfig, train


@pytest.fixture(scope="module")
def prepared(tiny_bert_with_tokenizer, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "synth-sentiment"
    return str(prepare("synth-sentiment", tiny_bert_with_tokenizer, source="synthetic", out_dir=out))


def _config(model, prepared, out, **overrides):
    values = {"model": model, "task": "synth-sentiment", "method": "masking", "seed": 1, "lr": 1e-2,
              "out_dir": str(out), "epochs": 2, "batch_size": 32, "prepared_dir": prepared, "device": "cpu"}
    return TrainConfig(**{**values, **overrides})


def test_masking_run_writes_its_directory_and_the_artifact_reproduces_dev(tiny_bert_with_tokenizer, prepared, tmp_path):
    summary = train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "run"))
    run = tmp_path / "run"
    assert summary["done"] and summary["best_epoch"] in (1, 2)
    record = json.loads((run / "run.json").read_text())
    assert record["source"] == "synthetic" and record["task_kind"] == "single"
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]
    assert all(np.isfinite(line["train_loss"]) and 0 < line["mask_changed"] < 1 for line in lines)
    assert not (run / "checkpoint.pt").exists()
    assert (run / "artifact" / "mask.safetensors").stat().st_size < 200_000
    saved = Predictions.load(run / "dev_predictions.safetensors")
    result = evaluate_run(run, "dev", device="cpu")
    assert np.array_equal(Predictions.load(run / "dev_predictions.safetensors").logits, saved.logits)
    recomputed = Predictions.load(run / "dev_predictions.safetensors")
    assert result["score"] == summary["best_dev_score"] == recomputed.score(type("T", (), {"metric": "accuracy"}))
    assert evaluate_run(run, "test", device="cpu")["split"] == "test"
    assert (run / "evaluation" / "test_metrics.json").exists()


def test_finished_run_is_not_retrained(tiny_bert_with_tokenizer, prepared, tmp_path):
    config = _config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", epochs=1)
    first = train(config)
    stamp = (tmp_path / "run" / "summary.json").stat().st_mtime_ns
    assert train(config) == first
    assert (tmp_path / "run" / "summary.json").stat().st_mtime_ns == stamp


def test_finetuning_run_updates_weights_and_reloads(tiny_bert_with_tokenizer, prepared, tmp_path):
    train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", method="finetuning", lr=1e-3, epochs=1))
    model = load_run_model(tmp_path / "run")
    from transformers import AutoModel

    base = AutoModel.from_pretrained(tiny_bert_with_tokenizer)
    assert not torch.equal(base.encoder.layer[0].output.dense.weight, model.bert.encoder.layer[0].output.dense.weight)


def test_max_length_must_match_the_prepared_data(tiny_bert_with_tokenizer, prepared, tmp_path):
    with pytest.raises(ValueError, match="tokenized with max_length 128, but the run asks for 64"):
        train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", max_length=64))


def test_nan_loss_stops_the_job(tiny_bert_with_tokenizer, prepared, tmp_path):
    with pytest.raises(FloatingPointError, match="loss became nan"):
        train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", method="finetuning", lr=1e30))
    assert not (tmp_path / "run" / "summary.json").exists()


def _cli_train(model, prepared, out):
    return [sys.executable, "-m", "maskbert.cli", "train", "--model", model, "--task", "synth-sentiment",
            "--method", "masking", "--seed", "3", "--lr", "1e-2", "--epochs", "4", "--patience", "4",
            "--prepared", prepared, "--out", str(out), "--device", "cpu"]


def _epochs_without_time(run):
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_killed_run_resumes_to_the_same_result(tiny_bert_with_tokenizer, prepared, tmp_path):
    env = {**os.environ, "TQDM_DISABLE": "1"}
    subprocess.run(_cli_train(tiny_bert_with_tokenizer, prepared, tmp_path / "whole"), check=True, env=env,
                   capture_output=True)

    killed = tmp_path / "killed"
    process = subprocess.Popen(_cli_train(tiny_bert_with_tokenizer, prepared, killed), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed / "checkpoint.pt").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "summary.json").exists(), "the run finished before it could be killed"
    epochs_done = len((killed / "metrics.jsonl").read_text().splitlines())
    assert 1 <= epochs_done < 4
    # a workflow manager deletes the declared outputs of an interrupted job before running it again
    (killed / "dev_predictions.safetensors").unlink(missing_ok=True)

    subprocess.run(_cli_train(tiny_bert_with_tokenizer, prepared, killed), check=True, env=env, capture_output=True)
    whole_summary = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert json.loads((killed / "summary.json").read_text()) == whole_summary
    assert _epochs_without_time(killed) == _epochs_without_time(tmp_path / "whole")
    assert np.array_equal(Predictions.load(killed / "dev_predictions.safetensors").logits,
                          Predictions.load(tmp_path / "whole" / "dev_predictions.safetensors").logits)


def test_tagging_run_scores_kept_words_and_reports_dropped_ones(tiny_bert_with_tokenizer, tmp_path):
    prepared_ner = str(prepare("synth-ner", tiny_bert_with_tokenizer, source="synthetic", max_length=12,
                               out_dir=tmp_path / "prepared"))
    config = _config(tiny_bert_with_tokenizer, prepared_ner, tmp_path / "run", task="synth-ner", epochs=1,
                     max_length=12)
    summary = train(config)
    result = evaluate_run(tmp_path / "run", "dev", device="cpu")
    assert result["score"] == summary["best_dev_score"]
    assert result["words_dropped"] > 0  # max_length 12 cuts the longer sentences
    assert result["score_all_words"] <= result["score"]
    predictions = Predictions.load(tmp_path / "run" / "dev_predictions.safetensors")
    assert predictions.logits.shape[0] == result["words_scored"] == len(predictions.labels)
