"""1-bit mask artifacts: round trip, size, and the errors for wrong, corrupted or truncated files."""

import json

import pytest
import torch
from conftest import task_view
from safetensors.torch import load_file, save_file

from maskbert.artifact import ArtifactError, load_artifact, pack_mask, save_artifact, unpack_mask
from maskbert.masking import binary_masks, masking_report
from maskbert.methods import build_model

TASK = {"name": "toy", "kind": "single", "label_names": ["L0", "L1", "L2"]}


def _trained_masked_model(base_dir, seed=3):
    model = build_model(base_dir, task_view("single"), "masking", seed=seed)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=5e-2)
    torch.manual_seed(0)
    for _ in range(3):
        loss = model(input_ids=torch.randint(5, 100, (8, 7)), labels=torch.randint(0, 3, (8,))).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(params=["bert", "roberta", "distilbert"])
def saved(request, tiny_model_dirs, tmp_path):
    base = tiny_model_dirs[request.param]
    model = _trained_masked_model(base)
    path = save_artifact(model, tmp_path / "mask.safetensors", base_model=base, task=TASK)
    return model, path, base


def test_pack_unpack_round_trip():
    mask = torch.rand(13, 7) > 0.3
    packed = pack_mask(mask)
    assert packed.dtype == torch.uint8 and packed.numel() == (13 * 7 + 7) // 8
    assert torch.equal(unpack_mask(packed, [13, 7]), mask)


def test_round_trip_gives_identical_logits_and_masks(saved):
    model, path, _ = saved
    loaded, metadata = load_artifact(path)
    ids = torch.randint(5, 100, (4, 11))
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, loaded(input_ids=ids).logits)
    original, restored = binary_masks(model), binary_masks(loaded)
    assert all(torch.equal(original[n], restored[n]) for n in original)
    assert metadata["task"] == TASK and metadata["threshold"] == 0.01


def test_file_holds_one_bit_per_masked_weight_plus_head_and_metadata(saved):
    model, path, _ = saved
    masked_bits = masking_report(model)["masked_weights"]
    head_bytes = 4 * sum(model.state_dict()[n].numel() for n in model.maskbert.random_init)
    header = path.stat().st_size - masked_bits / 8 - head_bytes
    assert 0 < header < 16_000  # safetensors header + JSON metadata, rounding of each packed layer


def test_different_base_model_is_refused_with_fingerprints(saved, tmp_path):
    _, path, base = saved
    other = tmp_path / "other-base"
    from transformers import AutoModel

    backbone = AutoModel.from_pretrained(base)
    with torch.no_grad():
        backbone.get_input_embeddings().weight.add_(0.5)
    backbone.save_pretrained(other)
    with pytest.raises(ArtifactError, match=r"made for base model .* fingerprint"):
        load_artifact(path, base_model=str(other))


def test_truncated_file_is_refused(saved, tmp_path):
    _, path, _ = saved
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ArtifactError, match="truncated.safetensors: unreadable artifact"):
        load_artifact(truncated)


def test_corrupted_bytes_are_refused(saved, tmp_path):
    _, path, _ = saved
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    corrupted = tmp_path / "corrupted.safetensors"
    corrupted.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="corrupted"):
        load_artifact(corrupted)


def test_shape_mismatch_names_the_layer(saved, tmp_path):
    _, path, _ = saved
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = json.loads(handle.metadata()["maskbert"])
    del metadata["metadata_sha256"]  # as a file written before the header checksum
    layer = next(iter(metadata["layers"]))
    metadata["layers"][layer] = [3, 3]
    edited = tmp_path / "edited.safetensors"
    save_file(load_file(str(path)), str(edited), metadata={"maskbert": json.dumps(metadata)})
    with pytest.raises(ArtifactError, match=f"layer '{layer}' has shape \\[3, 3\\]"):
        load_artifact(edited)


def test_missing_metadata_field_is_named(saved, tmp_path):
    _, path, _ = saved
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = json.loads(handle.metadata()["maskbert"])
    del metadata["metadata_sha256"]  # as a file written before the header checksum
    del metadata["base_fingerprint"]
    edited = tmp_path / "edited.safetensors"
    save_file(load_file(str(path)), str(edited), metadata={"maskbert": json.dumps(metadata)})
    with pytest.raises(ArtifactError, match="'base_fingerprint' is missing"):
        load_artifact(edited)


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert"])
def test_file_size_matches_the_memory_report(tiny_model_dirs, tmp_path, family):
    from maskbert.memory import memory_table

    base = tiny_model_dirs[family]
    model = _trained_masked_model(base)
    path = save_artifact(model, tmp_path / "mask.safetensors", base_model=base, task=TASK)
    report = memory_table(base, {"toy": 3}).set_index("item")["memory_kb"]
    predicted_bytes = 1000 * report.drop(report.index[0]).sum()  # all but the shared pretrained model
    state = model.state_dict()
    bias_bytes = 4 * sum(state[n].numel() for n in model.maskbert.random_init if n.endswith(".bias"))
    overhead = path.stat().st_size - predicted_bytes - bias_bytes  # biases are not counted, as in the paper
    assert 0 < overhead < 16_000
