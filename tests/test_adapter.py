"""Mask directories (save_masks / load_masked), old artifacts, and merging into a plain transformers model."""

import json
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import task_view

from maskbert.adapter import load_masked, merge_masks, save_masks, save_merged
from maskbert.artifact import ArtifactError, read_artifact, save_artifact
from maskbert.masking import MaskedLinear, MaskingConfig, binary_masks
from maskbert.methods import build_model
from maskbert.methods.base import ARTIFACT_RECORD

LABELS = {"label_names": ["L0", "L1", "L2"]}
IDS = torch.randint(5, 100, (4, 9), generator=torch.Generator().manual_seed(0))


def _trained(base_dir, kind="single", seed=2):
    model = build_model(
        base_dir,
        task_view(kind),
        "masking",
        seed=seed,
        options=MaskingConfig(masked_blocks="1-3", initial_sparsity=0.1),
    )
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-2)
    torch.manual_seed(0)
    for _ in range(3):
        labels = torch.randint(0, 3, (8, 7) if kind == "tagging" else (8,))
        loss = model(input_ids=torch.randint(5, 100, (8, 7)), labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def _logits(model):
    with torch.no_grad():
        return model(input_ids=IDS).logits


def test_masking_config_json_round_trip():
    config = MaskingConfig(masked_blocks=[3, 1, 2], initial_sparsity=0.2, seed=9, mask_pooler=False)
    again = MaskingConfig.from_json(config.to_json())
    assert again == config and again.masked_blocks == "1-3" and isinstance(again.layer_types, tuple)
    with pytest.raises(ValueError, match="unknown key 'sparsity'"):
        MaskingConfig.from_dict({"sparsity": 0.1})


@pytest.mark.parametrize("coding", ["flips", "bits"])
@pytest.mark.parametrize("family,kind", [("bert", "single"), ("roberta", "tagging")])
def test_mask_directory_round_trip(tiny_model_dirs, tmp_path, coding, family, kind):
    base = tiny_model_dirs[family]
    model = _trained(base, kind)
    directory = save_masks(model, tmp_path / "mask", base_model=base, coding=coding)
    record = json.loads((directory / ARTIFACT_RECORD).read_text())
    assert record["method"] == "masking" and record["base_model"] == base
    assert record["task"] == {"name": "toy", "kind": kind, "label_names": ["L0", "L1", "L2"]}
    config = model.maskbert.masking.config
    assert MaskingConfig.from_dict({**record["options"], "seed": record["seed"]}) == config
    assert read_artifact(directory / "mask.safetensors")[0].get("mask_coding", "bits") == coding
    loaded = load_masked(directory)
    assert loaded.maskbert.task.kind == kind
    assert torch.equal(_logits(model), _logits(loaded))
    assert sorted(p.name for p in directory.iterdir()) == sorted([ARTIFACT_RECORD, "mask.safetensors"])


def test_base_model_from_another_path_and_a_wrong_one(tiny_model_dirs, tmp_path):
    base = tiny_model_dirs["bert"]
    model = _trained(base)
    directory = save_masks(
        model, tmp_path / "mask", base_model="no/such-model-on-this-machine", task=task_view("single")
    )
    copied = shutil.copytree(base, tmp_path / "moved-base")
    assert torch.equal(_logits(model), _logits(load_masked(directory, base_model=str(copied))))
    with pytest.raises(ArtifactError, match="made for base model"):
        load_masked(directory, base_model=tiny_model_dirs["distilbert"])


def test_runs_from_before_artifacts_recorded_themselves_keep_loading(tiny_model_dirs, tmp_path):
    """A run trained before maskbert.json: its run.json says the method; without either, nothing is
    guessed from file names."""
    base = tiny_model_dirs["bert"]
    model = _trained(base)
    run = tmp_path / "run"
    path = save_artifact(
        model, run / "artifact" / "mask.safetensors", base_model=base, task=task_view("single")
    )
    run_json = {"model": base, "method": "masking", "seed": 2, "options": {}}
    (run / "run.json").write_text(json.dumps({**run_json, "task": "toy", "task_kind": "single"} | LABELS))
    for where in (path, run / "artifact", run):
        loaded = load_masked(where)
        assert loaded.maskbert.task.name == "toy" and torch.equal(_logits(model), _logits(loaded))
    (run / "run.json").unlink()
    with pytest.raises(ArtifactError, match=f"run: not an artifact maskbert wrote: no {ARTIFACT_RECORD} in "):
        load_masked(run)


def test_merge_gives_plain_linear_layers_and_identical_logits(tiny_model_dirs):
    model = _trained(tiny_model_dirs["distilbert"])
    expected, masks = _logits(model), binary_masks(model)
    merged = merge_masks(model)
    assert not any(isinstance(m, MaskedLinear) for m in merged.modules())
    assert not hasattr(merged, "maskbert")
    weight = dict(merged.named_modules())[next(iter(masks))].weight
    assert int((weight == 0).sum()) >= int((~next(iter(masks.values()))).sum())
    assert torch.equal(expected, _logits(merged))


LOADER = """
import sys
sys.modules["maskbert"] = None  # loading the merged folder must not need maskbert
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
model = AutoModelForSequenceClassification.from_pretrained(sys.argv[1]).eval()
AutoTokenizer.from_pretrained(sys.argv[1])
with torch.no_grad():
    torch.save(model(input_ids=torch.load(sys.argv[2])).logits, sys.argv[3])
"""


def test_merged_folder_loads_without_maskbert(tiny_bert_with_tokenizer, tmp_path):
    model = _trained(tiny_bert_with_tokenizer)
    folder = save_merged(model, tmp_path / "merged")
    assert any(isinstance(m, MaskedLinear) for m in model.modules())  # the original stays masked
    torch.save(IDS, tmp_path / "ids.pt")
    subprocess.run(
        [sys.executable, "-c", LOADER, str(folder), str(tmp_path / "ids.pt"), str(tmp_path / "out.pt")],
        check=True,
        cwd=tmp_path,
    )
    assert torch.equal(_logits(model), torch.load(tmp_path / "out.pt"))


def test_a_model_the_user_loaded_and_masked_saves_and_loads(tiny_model_dirs, tmp_path):
    from transformers import AutoModelForSequenceClassification

    from maskbert.masking import mask_model

    base = tiny_model_dirs["roberta"]
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=4)
    mask_model(model, MaskingConfig(seed=5, initial_sparsity=0.2)).eval()
    directory = save_masks(model, tmp_path / "mine")
    config = json.loads((directory / ARTIFACT_RECORD).read_text())
    assert config["base_model"] == base and config["task"]["label_names"] == [
        "LABEL_0",
        "LABEL_1",
        "LABEL_2",
        "LABEL_3",
    ]
    assert torch.equal(_logits(model), _logits(load_masked(directory)))
