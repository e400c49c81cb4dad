"""Runs: a rerun checks its artifact before trusting it, evaluate never writes over a run's own files, and
limits are refused before any work (issue 16)."""

import hashlib
import json
from pathlib import Path

import pytest
from conftest import train_config

from maskbert.data import prepare
from maskbert.evaluation import evaluate_run
from maskbert.methods import load_run_model
from maskbert.training import train


def _config(model, prepared, out, **overrides):
    return train_config(model, prepared, out, **{"epochs": 1, **overrides})


@pytest.fixture(scope="module")
def run(tiny_bert_with_tokenizer, prepared, tmp_path_factory):
    config = _config(tiny_bert_with_tokenizer, prepared, tmp_path_factory.mktemp("run") / "run")
    return config, train(config)


def test_the_summary_records_the_artifacts_checksums(run):
    """summary.json's checksums are the SHA-256 of the files' bytes, computed here independently of the
    code training calls."""
    config, summary = run
    artifact = Path(config.out_dir) / "artifact"
    expected = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in artifact.iterdir()}
    assert sorted(expected) == ["mask.safetensors", "maskbert.json"]
    assert summary["artifact_sha256"] == expected


def test_a_rerun_retrains_a_run_whose_artifact_was_damaged(tiny_bert_with_tokenizer, prepared, tmp_path):
    config = _config(tiny_bert_with_tokenizer, prepared, tmp_path / "run")
    first = train(config)
    artifact = tmp_path / "run" / "artifact" / "mask.safetensors"
    artifact.write_bytes(artifact.read_bytes()[:-100])
    with pytest.warns(UserWarning, match=r"mask.safetensors does not match its checksum in summary.json"):
        again = train(config)
    assert again == first  # trained again from scratch, to the same result
    load_run_model(tmp_path / "run")  # loads again
    (tmp_path / "run" / "artifact" / "stray.bin").write_bytes(b"x")
    with pytest.warns(UserWarning, match=r"stray.bin not written by the training run; left in place"):
        train(config)


def test_evaluate_refuses_to_write_over_the_runs_own_files(run):
    config, _ = run
    out = Path(config.out_dir)
    before = (out / "dev_predictions.safetensors").read_bytes()
    with pytest.raises(ValueError, match=r"dev_predictions.safetensors: would write over the run's own"):
        evaluate_run(out, "dev", out_dir=out)
    with pytest.raises(ValueError, match=r"would write over the run's own artifact"):
        evaluate_run(out, "test", out_dir=out / "artifact")
    assert (out / "dev_predictions.safetensors").read_bytes() == before
    assert sorted(p.name for p in (out / "artifact").iterdir()) == ["mask.safetensors", "maskbert.json"]
    assert evaluate_run(out, "dev", out_dir=out / "elsewhere")["split"] == "dev"


def test_evaluate_command_with_out_run_exits_with_a_message(run, capsys):
    from maskbert.cli import main

    config, _ = run
    assert main(["evaluate", "--run", config.out_dir, "--split", "dev", "--out", config.out_dir]) == 2
    assert "would write over the run's own dev_predictions.safetensors" in capsys.readouterr().err


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"max_length": 1000}, r"max length 1000: model '.*' takes 1 to 512 wordpieces per example"),
        ({"device": "banana"}, r"device 'banana': expected cpu, cuda, cuda:N or mps"),
    ],
)
def test_limits_are_refused_before_any_work(tiny_bert_with_tokenizer, prepared, tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "run", **overrides))
    assert not (tmp_path / "run").exists()


def test_roberta_positions_leave_out_the_padding_offset(tiny_model_dirs):
    from transformers import AutoConfig

    from maskbert.families import check_max_length, max_positions

    config = AutoConfig.from_pretrained(tiny_model_dirs["roberta"])  # 130 position embeddings
    assert max_positions(config) == 128
    check_max_length(128, config, "tiny")
    with pytest.raises(ValueError, match="max length 129: model 'tiny' takes 1 to 128"):
        check_max_length(129, config, "tiny")


def test_a_run_finished_before_checksums_is_still_trusted(run, tmp_path):
    from maskbert.rundir import artifact_damage

    config, _ = run
    artifact = Path(config.out_dir) / "artifact"
    assert artifact_damage(artifact, None) is None
    recorded = json.loads((Path(config.out_dir) / "summary.json").read_text())["artifact_sha256"]
    assert artifact_damage(artifact, recorded) is None
    assert "is missing" in artifact_damage(artifact, {**recorded, "other.bin": "0"})


def test_configured_masked_blocks_beyond_the_models_depth_are_refused_up_front(tiny_model_dirs):
    from reproduction.grid import configured_options

    cfg = {
        "model_paths": {"tiny": tiny_model_dirs["bert"]},
        "method_options": {"masking": {"masked_blocks": "0-9"}},
    }
    with pytest.raises(
        ValueError, match=r"masked_blocks' \"0-9\": masked blocks \[4, 5, 6, 7, 8, 9\] do not exist"
    ):
        configured_options(cfg, "tiny", "masking", check=True)


def test_a_run_with_another_config_is_replaced_only_with_overwrite(run, tiny_bert_with_tokenizer, prepared):
    config, summary = run
    other = _config(tiny_bert_with_tokenizer, prepared, config.out_dir, lr=3e-2)
    with pytest.raises(FileExistsError, match=r"holds a run with another config \(lr 0.01, now 0.03\)"):
        train(other)
    assert json.loads((Path(config.out_dir) / "summary.json").read_text()) == summary
    assert train(config) == summary  # the run itself is untouched and still finished


def test_train_into_a_folder_of_the_users_files(tiny_bert_with_tokenizer, prepared, tmp_path):
    out = tmp_path / "mine"
    (out / "artifact").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"mine: holds artifact but no run.json; pass --overwrite"):
        train(_config(tiny_bert_with_tokenizer, prepared, out))
    assert (out / "artifact").is_dir()
    (out / "artifact").rmdir()
    train(_config(tiny_bert_with_tokenizer, prepared, out))
    assert (out / "notes.txt").read_text() == "mine" and (out / "summary.json").is_file()


def test_prepare_never_replaces_a_folder_it_did_not_write(tiny_bert_with_tokenizer, tmp_path):
    from maskbert.data import DataError

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match=r"out: exists and is not a tokenized task folder"):
        prepare("synth-sentiment", tiny_bert_with_tokenizer, source="synthetic", out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_evaluate_refuses_an_unknown_device(run):
    config, _ = run
    with pytest.raises(ValueError, match="device 'banana'"):
        evaluate_run(config.out_dir, "dev", device="banana")
