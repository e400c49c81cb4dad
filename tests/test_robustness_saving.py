"""Saving never deletes a user's files, loading tells the truth, and damaged headers are caught (issue 16)."""

import json

import pytest
import torch
from conftest import task_view
from transformers.utils import logging

from maskbert.adapter import load_masked, save_masks, save_merged
from maskbert.artifact import ArtifactError, load_artifact
from maskbert.masking import MaskingConfig
from maskbert.methods import build_model
from maskbert.methods.base import ARTIFACT_RECORD, ArtifactRecord
from maskbert.rundir import MASK_FILE

SST2 = {"name": "sst2", "kind": "single", "label_names": ["negative", "positive"]}


@pytest.fixture(scope="module")
def model(tiny_model_dirs):
    task = task_view("single", labels=2)
    options = MaskingConfig(masked_blocks="1-3", initial_sparsity=0.1)
    return build_model(tiny_model_dirs["bert"], task, "masking", seed=2, options=options).eval()


def _logits(model):
    with torch.no_grad():
        return model(input_ids=torch.arange(5, 14).reshape(1, 9)).logits


def test_save_masks_leaves_the_users_files_in_place(model, tiny_model_dirs, tmp_path):
    directory = tmp_path / "d"
    (directory / "sub").mkdir(parents=True)
    (directory / "notes.txt").write_text("mine")
    (directory / "sub" / "a.txt").write_text("also mine")
    save_masks(model, directory, base_model=tiny_model_dirs["bert"], task=SST2)
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        [ARTIFACT_RECORD, MASK_FILE, "notes.txt", "sub"]
    )
    assert (directory / "notes.txt").read_text() == "mine" and (directory / "sub" / "a.txt").exists()
    save_masks(model, directory, base_model=tiny_model_dirs["bert"], task=SST2)  # the same model again: fine
    assert torch.equal(_logits(load_masked(directory)), _logits(model))


def test_save_masks_onto_a_file_is_refused_and_the_file_kept(model, tmp_path):
    file = tmp_path / "d"
    file.write_text("a user's file")
    with pytest.raises(FileExistsError, match="d: is a file; expected a directory"):
        save_masks(model, file, task=SST2)
    assert file.read_text() == "a user's file" and sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_another_models_mask_needs_overwrite(model, tiny_model_dirs, tmp_path):
    save_masks(model, tmp_path / "d", base_model=tiny_model_dirs["bert"], task=SST2)
    other = {**SST2, "name": "imdb"}
    with pytest.raises(FileExistsError, match=r"another model \(task .*sst2"):
        save_masks(model, tmp_path / "d", task=other)
    assert ArtifactRecord.read(tmp_path / "d").task.name == "sst2"
    save_masks(model, tmp_path / "d", task=other, overwrite=True)
    assert ArtifactRecord.read(tmp_path / "d").task.name == "imdb"


def test_save_merged_into_a_run_directory_keeps_the_run(model, tmp_path):
    run = tmp_path / "run"
    (run / "artifact").mkdir(parents=True)
    for name in ("run.json", "summary.json", "artifact/mask.safetensors"):
        (run / name).write_text("{}")
    with pytest.raises(FileExistsError, match="holds run.json of a run directory; pass overwrite=True"):
        save_merged(model, run)
    assert sorted(p.name for p in run.iterdir()) == ["artifact", "run.json", "summary.json"]
    save_merged(model, run, overwrite=True)
    names = {p.name for p in run.iterdir()}
    assert {"artifact", "run.json", "summary.json", "config.json", "model.safetensors"} <= names
    assert (run / "artifact" / "mask.safetensors").read_text() == "{}"
    assert not [n for n in names if n.startswith(".")]


def test_save_merged_onto_a_file_or_another_models_folder(model, tiny_model_dirs, tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        save_merged(model, tmp_path / "f")
    three = build_model(tiny_model_dirs["bert"], task_view("single", labels=3), "masking", 2, MaskingConfig())
    save_merged(three, tmp_path / "m")
    with pytest.raises(FileExistsError, match="another model \\(labels"):
        save_merged(model, tmp_path / "m")
    save_merged(three, tmp_path / "m")  # the same model again is fine


def test_task_name_survives_load_and_save(model, tiny_model_dirs, tmp_path):
    save_masks(model, tmp_path / "a", base_model=tiny_model_dirs["bert"], task=SST2)
    save_masks(load_masked(tmp_path / "a"), tmp_path / "b")
    assert ArtifactRecord.read(tmp_path / "b").task.to_dict() == SST2


def test_loading_shows_no_newly_initialized_report(model, tiny_model_dirs, tmp_path):
    import logging as std_logging

    save_masks(model, tmp_path / "a", base_model=tiny_model_dirs["bert"], task=SST2)
    reports = []
    handler = std_logging.Handler()
    handler.emit = lambda record: reports.append(record.getMessage())
    logger = std_logging.getLogger("transformers.modeling_utils")
    logger.addHandler(handler)
    logging.set_verbosity_warning()
    try:
        load_masked(tmp_path / "a")
        assert not [r for r in reports if "MISSING" in r or "newly initialized" in r]
        build_model(tiny_model_dirs["bert"], task_view("single", labels=2), "masking", 2, MaskingConfig())
        assert any("MISSING" in r for r in reports)  # a fresh head is still reported where it is true
    finally:
        logging.set_verbosity_error()
        logger.removeHandler(handler)


def _flip_in_header(path, old: bytes, new: bytes, out):
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + length]
    assert old in header and len(old) == len(new)
    out.write_bytes(data[:8] + header.replace(old, new, 1) + data[8 + length :])
    return out


def test_a_flipped_label_in_the_header_is_caught(model, tiny_model_dirs, tmp_path):
    save_masks(model, tmp_path / "a", base_model=tiny_model_dirs["bert"], task=SST2)
    bad = _flip_in_header(tmp_path / "a" / MASK_FILE, b"negative", b"ndgative", tmp_path / "bad.safetensors")
    with pytest.raises(ArtifactError, match="bad.safetensors: metadata does not match its checksum"):
        load_artifact(bad)


def test_a_flipped_header_key_names_the_file(model, tiny_model_dirs, tmp_path):
    save_masks(model, tmp_path / "a", base_model=tiny_model_dirs["bert"], task=SST2)
    bad = _flip_in_header(
        tmp_path / "a" / MASK_FILE, b"data_offsets", b"data_offsetz", tmp_path / "b.safetensors"
    )
    with pytest.raises(ArtifactError, match="b.safetensors: unreadable artifact"):
        load_artifact(bad)


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda text: text[:-5], "not a readable artifact record"),
        (
            lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "task"}),
            "field 'task' is missing",
        ),
        (
            lambda text: json.dumps({**json.loads(text), "format_version": 7}),
            "field 'format_version' 7, expected 1",
        ),
    ],
)
def test_a_damaged_artifact_record_is_named(model, tiny_model_dirs, tmp_path, edit, message):
    save_masks(model, tmp_path / "a", base_model=tiny_model_dirs["bert"], task=SST2)
    record = tmp_path / "a" / ARTIFACT_RECORD
    record.write_text(edit(record.read_text()))
    with pytest.raises(ArtifactError, match=f"{ARTIFACT_RECORD}: .*{message}"):
        load_masked(tmp_path / "a")
