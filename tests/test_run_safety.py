"""A run never lies (issue 23): one writer per run folder, resume and cache only onto the same inputs, no
empty --out after a refusal, user files never deleted, runs usable after their data moved, a full disk
reported in one line."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import train_config

from maskbert.data import DataError, load_prepared, prepare
from maskbert.evaluation import evaluate_run
from maskbert.rundir import DiskFull, RunFolderBusy, reporting_full_disk
from maskbert.training import train

WORDS = "good bad fine poor great awful nice dull happy sad warm cold bright dark kind rude".split()


def _csv(path: Path, rows, header="text,label") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *(",".join(row) for row in rows)]) + "\n")
    return str(path)


def _rows(count=40, flip=False):
    """Short texts labelled by their first word's parity; `flip` swaps every label (fixed labels)."""
    rows = []
    for i in range(count):
        label = "pos" if (i % 2 == 0) != flip else "neg"
        rows.append((f"{WORDS[i % len(WORDS)]} {WORDS[(3 * i + 1) % len(WORDS)]} text {i}", label))
    return rows


@pytest.fixture(scope="module")
def prepared(tiny_bert_with_tokenizer, tmp_path_factory):
    """A small data folder prepared for the tiny BERT (40 training rows, so that a run takes seconds);
    in this module it stands in for the shared synth-sentiment data."""
    folder = tmp_path_factory.mktemp("small")
    _csv(folder / "train.csv", _rows())
    _csv(folder / "dev.csv", _rows(12))
    return str(
        prepare(str(folder), tiny_bert_with_tokenizer, out_dir=tmp_path_factory.mktemp("small-prepared"))
    )


def _task(prepared) -> str:
    return json.loads((Path(prepared) / "meta.json").read_text())["task"]


def _config(model, prepared, out, **overrides):
    return train_config(model, prepared, out, **{"epochs": 1, "task": _task(prepared), **overrides})


# --- one writer per run folder ---------------------------------------------------------------------

HOLDER = (
    "import sys, time\n"
    "from maskbert.rundir import run_lock\n"
    "with run_lock(sys.argv[1]):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)


def _hold(out: Path, seconds: float) -> subprocess.Popen:
    """Another process holding the run folder's lock (as a `train` in progress does)."""
    out.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_is_refused_naming_the_folder_and_pid_and_a_dead_holders_lock_is_taken(
    tiny_bert_with_tokenizer, prepared, tmp_path
):
    out = tmp_path / "run"
    holder = _hold(out, 120)
    try:
        with pytest.raises(RunFolderBusy, match=rf"^{out}: another training \(PID {holder.pid}\) is writing"):
            train(_config(tiny_bert_with_tokenizer, prepared, out))
        assert sorted(p.name for p in out.iterdir()) == [".lock"]  # nothing written by the refused run
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding the lock: its .lock file stays, stale
        holder.wait()
    assert (out / ".lock").read_text().strip() == str(holder.pid)
    summary = train(_config(tiny_bert_with_tokenizer, prepared, out))
    assert summary["done"] and not (out / ".lock").exists()


def test_wait_waits_for_the_holder_then_trains(tiny_bert_with_tokenizer, prepared, tmp_path, capsys):
    out = tmp_path / "run"
    holder = _hold(out, 3)
    started = time.time()
    summary = train(_config(tiny_bert_with_tokenizer, prepared, out, wait=True))
    assert summary["done"] and holder.wait() == 0 and time.time() - started >= 2
    assert f"waiting for PID {holder.pid}" in capsys.readouterr().err  # stdout stays the summary's


def _cli_train(model, prepared, out, method):
    return [
        sys.executable,
        "-m",
        "maskbert.cli",
        "train",
        *("--model", model, "--task", _task(prepared), "--method", method, "--seed", "1"),
        *("--lr", "1e-2", "--epochs", "2", "--prepared", prepared, "--out", str(out), "--device", "cpu"),
    ]


@pytest.mark.slow  # two real training processes: 60 s on the shared 2-core machine, fixtures included
def test_two_trainings_started_together_on_one_out_never_mix(tiny_bert_with_tokenizer, prepared, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "TQDM_DISABLE": "1"}
    processes = {
        method: subprocess.Popen(
            _cli_train(tiny_bert_with_tokenizer, prepared, out, method),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for method in ("lora", "bitfit")
    }
    results = {method: (p.wait(), *p.communicate()) for method, p in processes.items()}
    winners = [method for method, (code, _, _) in results.items() if code == 0]
    assert len(winners) == 1, results
    loser = next(method for method in results if method not in winners)
    code, _, err = results[loser]
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "another training (PID" in err or "holds a run with another config (method" in err
    record = json.loads((out / "run.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert record["method"] == winners[0]
    assert json.loads(results[winners[0]][1]) == summary
    assert sorted(summary["artifact_sha256"]) == sorted(p.name for p in (out / "artifact").iterdir())
    assert not (out / ".progress").exists()


# --- resume and cache only onto the same inputs -------------------------------------------------------


@pytest.fixture
def custom_data(tmp_path, tiny_bert_with_tokenizer):
    """A custom CSV task prepared into a folder of its own; returns (task name, prepared dir)."""
    task = _csv(tmp_path / "data" / "train.csv", _rows())
    _csv(tmp_path / "data" / "dev.csv", _rows(12))
    task = str(tmp_path / "data")
    prepared = prepare(task, tiny_bert_with_tokenizer, out_dir=tmp_path / "prepared")
    return task, str(prepared)


def _interrupted(config, monkeypatch):
    """Run `config` until its first checkpoint is written, then stop it as a kill would."""
    import maskbert.training as training

    original = training._save_checkpoint

    def save_then_stop(*args):
        original(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "_save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(config)
    monkeypatch.setattr(training, "_save_checkpoint", original)


def test_changed_training_data_is_refused_on_a_finished_run_until_overwrite(
    tiny_bert_with_tokenizer, custom_data, tmp_path
):
    task, prepared = custom_data
    config = _config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", task=task)
    first = train(config)
    old = json.loads((tmp_path / "run" / "run.json").read_text())["data_fingerprint"]
    assert old == load_prepared(prepared).meta["fingerprint"]
    _csv(tmp_path / "data" / "train.csv", _rows(flip=True))  # the labels fixed
    prepare(task, tiny_bert_with_tokenizer, out_dir=prepared)
    with pytest.raises(
        FileExistsError, match=r"run: training data changed since the finished run"
    ) as refused:
        train(config)
    assert old in str(refused.value) and "pass --overwrite" in str(refused.value)
    assert json.loads((tmp_path / "run" / "summary.json").read_text()) == first  # untouched
    train(config, overwrite=True)
    new = json.loads((tmp_path / "run" / "run.json").read_text())["data_fingerprint"]
    assert new == load_prepared(prepared).meta["fingerprint"] != old


def test_a_checkpoint_of_other_data_is_never_resumed_onto(
    tiny_bert_with_tokenizer, custom_data, tmp_path, monkeypatch
):
    task, prepared = custom_data
    out = tmp_path / "run"
    config = _config(tiny_bert_with_tokenizer, prepared, out, task=task, epochs=2, patience=2)
    _interrupted(config, monkeypatch)
    assert (out / ".progress" / "checkpoint.pt").is_file()
    _csv(tmp_path / "data" / "train.csv", _rows(flip=True))
    prepare(task, tiny_bert_with_tokenizer, out_dir=prepared)
    with pytest.raises(FileExistsError, match=r"training data changed since the checkpoint"):
        train(config)
    # a workflow manager deletes the outputs of a job it reruns for a changed input: start again, say so
    for output in ("run.json", "metrics.jsonl"):
        (out / output).unlink()
    with pytest.warns(UserWarning, match=r"checkpoint.pt: training data changed since the checkpoint.*again"):
        resumed = train(config)
    fresh = train(
        _config(tiny_bert_with_tokenizer, prepared, tmp_path / "fresh", task=task, epochs=2, patience=2)
    )
    assert resumed == fresh


def test_an_unchanged_interrupted_run_resumes_to_the_uninterrupted_result(
    tiny_bert_with_tokenizer, prepared, tmp_path, monkeypatch
):
    whole = train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "whole", epochs=2, patience=2))
    config = _config(tiny_bert_with_tokenizer, prepared, tmp_path / "killed", epochs=2, patience=2)
    _interrupted(config, monkeypatch)
    assert train(config) == whole
    assert (tmp_path / "killed" / "artifact" / "mask.safetensors").read_bytes() == (
        tmp_path / "whole" / "artifact" / "mask.safetensors"
    ).read_bytes()


def test_changed_model_files_are_refused_and_an_old_run_json_stays_finished(
    tiny_bert_with_tokenizer, prepared, tmp_path
):
    model = tmp_path / "model"
    shutil.copytree(tiny_bert_with_tokenizer, model)
    config = _config(str(model), prepared, tmp_path / "run")
    first = train(config)
    run_json = tmp_path / "run" / "run.json"
    record = json.loads(run_json.read_text())
    # a run.json written before fingerprints were recorded is compared without them
    old = {k: v for k, v in record.items() if k not in ("data_fingerprint", "model_fingerprint", "encoding")}
    run_json.write_text(json.dumps(old))
    assert train(config) == first
    run_json.write_text(json.dumps(record))
    weights = next(model.glob("*.safetensors"))
    state = weights.read_bytes()
    weights.write_bytes(state[:-4] + bytes(4))  # other weights, same size
    with pytest.raises(FileExistsError, match=r"the model's files changed since the finished run"):
        train(config)


# --- no empty --out after a refusal --------------------------------------------------------------------


@pytest.mark.parametrize("lr", [float("nan"), float("inf")])
def test_a_non_finite_lr_is_refused_before_the_folder(tiny_bert_with_tokenizer, prepared, tmp_path, lr):
    with pytest.raises(ValueError, match=rf"^lr {lr}: expected a positive number$"):
        _config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", lr=lr)
    assert not (tmp_path / "run").exists()


def test_lr_nan_on_the_command_line_leaves_no_folder(tiny_bert_with_tokenizer, prepared, tmp_path, capsys):
    from maskbert.cli import main

    args = _cli_train(tiny_bert_with_tokenizer, prepared, tmp_path / "a" / "run", "masking")[3:]
    args[args.index("--lr") + 1] = "nan"
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == "maskbert train: error: lr nan: expected a positive number"
    assert not (tmp_path / "a").exists()


def test_a_failure_before_anything_is_kept_removes_only_what_the_run_created(
    tiny_bert_with_tokenizer, prepared, tmp_path, monkeypatch
):
    from maskbert.methods import get_method

    method = get_method("masking")

    def refuse(*args, **kwargs):
        raise ValueError("layer_types ['nope']: expected some of query, key, value")

    monkeypatch.setattr(type(method), "build", refuse)
    with pytest.raises(ValueError, match="layer_types"):
        train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "new" / "run"))
    assert not (tmp_path / "new").exists()  # both folders it made are gone
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="layer_types"):
        train(_config(tiny_bert_with_tokenizer, prepared, mine))
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]  # the user's file and folder stay


def test_a_nan_loss_in_the_first_epoch_leaves_no_folder(tiny_bert_with_tokenizer, prepared, tmp_path):
    with pytest.raises(FloatingPointError, match="loss became nan"):
        train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", method="finetuning", lr=1e30))
    assert not (tmp_path / "run").exists()


# --- files the project did not write ---------------------------------------------------------------


@pytest.fixture
def finished(tiny_bert_with_tokenizer, prepared, tmp_path):
    config = _config(tiny_bert_with_tokenizer, prepared, tmp_path / "run")
    return config, train(config)


def test_a_users_file_in_a_finished_artifact_is_kept_and_the_run_not_retrained(finished):
    config, summary = finished
    notes = Path(config.out_dir) / "artifact" / "notes.txt"
    notes.write_text("mine")
    mask = (notes.parent / "mask.safetensors").stat().st_mtime_ns
    with pytest.warns(
        UserWarning, match=r"artifact: notes.txt not written by the training run; left in place"
    ):
        assert train(config) == summary
    assert notes.read_text() == "mine" and (notes.parent / "mask.safetensors").stat().st_mtime_ns == mask


def test_a_retrain_moves_the_users_files_aside_never_deletes_them(
    finished, tiny_bert_with_tokenizer, prepared
):
    config, summary = finished
    artifact = Path(config.out_dir) / "artifact"
    (artifact / "sub").mkdir()
    (artifact / "sub" / "notes.txt").write_text("mine")
    mask = artifact / "mask.safetensors"
    mask.write_bytes(mask.read_bytes()[:-10])  # damaged: the run is trained again
    with pytest.warns(UserWarning) as caught:
        assert train(config) == summary
    messages = [str(w.message) for w in caught]
    kept = Path(config.out_dir) / "kept-files" / "artifact" / "sub" / "notes.txt"
    assert any(
        "1 file(s) not written by a training run moved aside" in m and str(kept) in m for m in messages
    )
    assert kept.read_text() == "mine" and sorted(p.name for p in artifact.iterdir()) == [
        "mask.safetensors",
        "maskbert.json",
    ]
    # again, with another config and --overwrite: the second file gets a name of its own
    (artifact / "sub").mkdir()
    (artifact / "sub" / "notes.txt").write_text("mine too")
    with pytest.warns(UserWarning, match="moved aside"):
        train(_config(tiny_bert_with_tokenizer, prepared, config.out_dir, lr=2e-2), overwrite=True)
    assert kept.read_text() == "mine" and kept.with_name("notes-2.txt").read_text() == "mine too"


# --- runs stay usable when their data moves -------------------------------------------------------


def test_a_run_is_scored_after_its_data_folder_moved(tiny_bert_with_tokenizer, custom_data, tmp_path):
    task, prepared = custom_data
    summary = train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", task=task))
    (tmp_path / "data").rename(tmp_path / "elsewhere")
    assert evaluate_run(tmp_path / "run", "dev", device="cpu")["score"] == pytest.approx(
        summary["best_dev_score"]
    )
    shutil.move(prepared, tmp_path / "moved-prepared")
    scored = evaluate_run(tmp_path / "run", "dev", prepared_dir=tmp_path / "moved-prepared", device="cpu")
    assert scored["score"] == pytest.approx(summary["best_dev_score"]) and scored["task"] == task


def test_evaluate_task_path_scores_a_run_on_its_moved_data(
    tiny_bert_with_tokenizer, custom_data, tmp_path, monkeypatch, capsys
):
    from maskbert.cli import main

    monkeypatch.setenv("MASKBERT_CACHE", str(tmp_path / "cache"))
    task, prepared = custom_data
    summary = train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", task=task))
    (tmp_path / "data").rename(tmp_path / "elsewhere")
    shutil.rmtree(prepared)  # the tokenized copy is gone too
    args = ["evaluate", "--run", str(tmp_path / "run"), "--split", "dev", "--device", "cpu"]
    assert main([*args, "--task", str(tmp_path / "elsewhere")]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == pytest.approx(summary["best_dev_score"])
    _csv(
        tmp_path / "other" / "train.csv", [(text, "x" if label == "pos" else "y") for text, label in _rows()]
    )
    assert main([*args, "--task", str(tmp_path / "other")]) == 2
    assert "label sets differ" in capsys.readouterr().err
    assert main([*args, "--task", "sst2"]) == 2
    assert "--task sst2: expected a data file or folder" in capsys.readouterr().err


def test_old_prepared_data_whose_files_are_gone_says_so(tiny_bert_with_tokenizer, custom_data, tmp_path):
    _, prepared = custom_data
    meta_file = Path(prepared) / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta.pop("task_spec")  # written before the spec was recorded
    meta_file.write_text(json.dumps(meta))
    (tmp_path / "data").rename(tmp_path / "elsewhere")
    with pytest.raises(
        DataError, match=r"prepared: prepared from task '.*data', which cannot be read any more"
    ):
        load_prepared(prepared)


# --- a full disk ----------------------------------------------------------------------------------------


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_at_the_checkpoint_is_one_line_and_leaves_no_folder(
    tiny_bert_with_tokenizer, prepared, tmp_path, monkeypatch
):
    monkeypatch.setattr(torch, "save", _no_space)
    with pytest.raises(
        DiskFull, match=r"^no space left on /\S* while writing \S+/run/.progress/checkpoint.pt;"
    ):
        train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_a_full_disk_in_the_methods_writer_is_one_line(
    tiny_bert_with_tokenizer, prepared, tmp_path, monkeypatch
):
    from safetensors import SafetensorError

    from maskbert.methods import get_method

    def no_space(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(type(get_method("masking")), "save", no_space)
    with pytest.raises(DiskFull, match=r"while writing \S+/run/.progress/artifact.tmp;"):
        train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_a_full_disk_after_a_kept_epoch_keeps_a_resumable_run(
    tiny_bert_with_tokenizer, prepared, tmp_path, monkeypatch
):
    import maskbert.training as training

    original, calls = training._save_checkpoint, []

    def full_the_second_time(path, *args):
        calls.append(path)
        if len(calls) == 2:
            _no_space()
        original(path, *args)

    monkeypatch.setattr(training, "_save_checkpoint", full_the_second_time)
    config = _config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", epochs=2, patience=2)
    with pytest.raises(OSError, match="No space left"):
        train(config)
    progress = tmp_path / "run" / ".progress"
    assert (progress / "checkpoint.pt").is_file() and not list(progress.glob("*.tmp"))
    monkeypatch.setattr(training, "_save_checkpoint", original)
    assert train(config)["epochs_run"] == 2


@pytest.mark.parametrize(("failing", "named"), [("dev_predictions", "dev_predictions"), ("mask", "artifact")])
def test_a_full_disk_while_publishing_keeps_the_run_to_finish_later(
    tiny_bert_with_tokenizer, prepared, tmp_path, monkeypatch, failing, named
):
    import maskbert.rundir as rundir

    original = rundir._link_or_copy

    def full_for_one_file(source, target):
        if Path(target).name.startswith(failing):
            _no_space()
        original(source, target)

    monkeypatch.setattr(rundir, "_link_or_copy", full_for_one_file)
    config = _config(tiny_bert_with_tokenizer, prepared, tmp_path / "run")
    with pytest.raises(DiskFull, match=rf"while writing \S+/run/{named}\S*; free space and rerun$"):
        train(config)
    out = tmp_path / "run"
    assert not (out / "summary.json").exists() and not list(out.glob("*.tmp"))
    monkeypatch.setattr(rundir, "_link_or_copy", original)
    monkeypatch.setattr("maskbert.training._train_epoch", pytest.fail)  # finished from the kept epoch
    assert train(config)["epochs_run"] == 1
    assert not (out / ".progress").exists()


def test_a_full_disk_in_evaluate_is_one_line_and_leaves_no_folder(finished, tmp_path, monkeypatch, capsys):
    import maskbert.evaluation as evaluation
    from maskbert.cli import main

    config, _ = finished
    monkeypatch.setattr(evaluation, "save_file", _no_space)
    out = tmp_path / "scores" / "dev"
    args = ["evaluate", "--run", config.out_dir, "--split", "dev", "--out", str(out), "--device", "cpu"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("maskbert evaluate: error: no space left on /") and len(err.splitlines()) == 1
    assert "dev_predictions.safetensors" in err and not (tmp_path / "scores").exists()


def test_reporting_full_disk_passes_other_errors_unchanged(tmp_path):
    with pytest.raises(PermissionError), reporting_full_disk(tmp_path / "x"):
        raise PermissionError(errno.EACCES, "denied")


# --- lesser ones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pair", "least"), [(False, 3), (True, 4)])
def test_a_max_length_below_the_special_tokens_is_refused(tiny_bert_with_tokenizer, tmp_path, pair, least):
    rows = [(text, text, label) for text, label in _rows()] if pair else _rows()
    task = _csv(tmp_path / "d.csv", rows, header="text,text_pair,label" if pair else "text,label")
    with pytest.raises(
        DataError, match=rf"--max-length {least - 1}: too small .* expected at least {least}$"
    ):
        prepare(task, tiny_bert_with_tokenizer, out_dir=tmp_path / "p", max_length=least - 1)
    prepare(task, tiny_bert_with_tokenizer, out_dir=tmp_path / "p", max_length=least)


def test_a_dev_hold_out_that_takes_a_class_whole_is_refused(tmp_path):
    import random

    from maskbert.data import read_splits

    rows = [(f"text number {i}", "pos") for i in range(30)]
    held = random.Random(42).sample(range(31), 3)  # the hold-out of 31 rows (10%, the data layer's seed)
    rows.insert(held[0], ("the one negative text", "neg"))
    task = _csv(tmp_path / "d.csv", rows)
    with pytest.raises(
        DataError, match=r"d.csv: label 'neg' has too few examples: the automatic dev hold-out"
    ):
        read_splits(task, "hub")
    rows = [row for row in rows if row[1] == "pos"]
    rows.insert(next(i for i in range(31) if i not in held), ("the one negative text", "neg"))
    assert "neg" in {ex["label"] for ex in read_splits(_csv(tmp_path / "e.csv", rows), "hub")["train"]}


def test_two_train_files_in_one_folder_are_refused_naming_both(tmp_path):
    from maskbert.data import get_task

    _csv(tmp_path / "train.csv", _rows())
    (tmp_path / "train.jsonl").write_text(json.dumps({"text": "a", "label": "pos"}) + "\n")
    with pytest.raises(DataError, match=r"train.csv and train.jsonl are both a train file; keep one"):
        get_task(str(tmp_path))
