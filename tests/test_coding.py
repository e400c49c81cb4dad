"""Masks coded below one bit per weight: regeneration, bit-exact round trips, sizes and refusals."""

import json
import struct
from importlib.metadata import version

import numpy as np
import pytest
import torch
from conftest import task_view

from maskbert.artifact import ArtifactError, load_artifact, save_artifact
from maskbert.coding import (
    BINS_PER_SIDE,
    MaskCodingError,
    coded_size,
    coding_versions,
    decode_layer,
    decode_masks,
    encode_layer,
    encode_masks,
    initial_scores,
    model_coded_size,
    score_bins,
)
from maskbert.masking import MaskingConfig, binary_masks
from maskbert.methods import build_model

TASK = {"name": "toy", "kind": "single", "label_names": ["L0", "L1", "L2"]}


def _layers(count=3, shape=(300, 200)):
    return [(f"layer{i}", shape) for i in range(count)]


def _flipped_masks(config, layers, flip_probability, rng):
    """Masks whose flips against the initial mask thin out with the initial score's distance from tau."""
    masks = {}
    for name, scores in initial_scores(config, layers):
        values = scores.reshape(-1).numpy()
        near = np.clip(1 - np.abs(values - config.threshold) / 0.1, 0, 1)
        flips = rng.random(values.size) < flip_probability * near
        masks[name] = torch.from_numpy(
            ((values >= np.float32(config.threshold)) ^ flips).reshape(scores.shape)
        )
    return masks


def test_regenerated_initial_masks_equal_mask_model(tiny_model_dirs):
    config = MaskingConfig(initial_sparsity=0.1)
    model = build_model(tiny_model_dirs["bert"], task_view("single"), "masking", seed=7, options=config)
    info = model.maskbert.masking
    initial = binary_masks(model)
    shapes = [(name, tuple(initial[name].shape)) for name in info.layer_names]
    for name, scores in initial_scores(info.config, shapes):
        regenerated = score_bins(scores, info.config) >= BINS_PER_SIDE
        assert np.array_equal(regenerated, initial[name].reshape(-1).numpy()), name


def test_regeneration_does_not_depend_on_thread_count():
    config, layers = MaskingConfig(seed=5), _layers(2, (1024, 700))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = [score_bins(s, config) for _, s in initial_scores(config, layers)]
        torch.set_num_threads(2)
        two = [score_bins(s, config) for _, s in initial_scores(config, layers)]
    finally:
        torch.set_num_threads(threads)
    assert all(np.array_equal(a, b) for a, b in zip(one, two))
    assert 0 < (one[0] >= BINS_PER_SIDE).mean() < 1


@pytest.mark.parametrize("flip_probability", [0.0, 0.02, 0.3, 1.0])
def test_random_masks_round_trip_bit_for_bit(flip_probability):
    config, layers = MaskingConfig(seed=1), _layers()
    masks = _flipped_masks(config, layers, flip_probability, np.random.default_rng(0))
    decoded = decode_masks(encode_masks(masks, config, [n for n, _ in layers]), config, layers)
    assert all(torch.equal(decoded[name], masks[name]) for name, _ in layers)


def test_uniformly_random_mask_and_edge_bins_round_trip():
    config = MaskingConfig(seed=2)
    ((_, scores),) = initial_scores(config, [("w", (64, 50))])
    bins = score_bins(scores, config)
    initial = bins >= BINS_PER_SIDE
    rng = np.random.default_rng(3)
    cases = {
        "no flips": initial,
        "every weight flipped": ~initial,
        "uniform random": rng.random(bins.size) < 0.5,
    }
    busiest = np.bincount(bins).argmax()
    whole_bin = initial.copy()
    whole_bin[bins == busiest] ^= True  # every weight of one bin flipped, one flip in another bin
    whole_bin[np.flatnonzero(bins != busiest)[0]] ^= True
    cases["all flips in a bin"] = whole_bin
    for label, mask in cases.items():
        assert np.array_equal(decode_layer(encode_layer(mask, bins), bins, "w"), mask), label
    assert len(encode_layer(initial, bins)) <= 4 + 8  # CRC and a few words: no bin has flips


def test_coded_size_approaches_the_conditional_entropy():
    config, layers = MaskingConfig(seed=4), _layers(4, (768, 768))
    masks = _flipped_masks(config, layers, 0.4, np.random.default_rng(1))
    size = coded_size(masks, config, [n for n, _ in layers])
    assert 0.01 < size["flip_fraction"] < 0.1
    assert size["entropy_bits"] <= size["bits"] <= 1.05 * size["entropy_bits"]
    assert size["bits_per_weight"] < 0.5 and size["weights"] == 4 * 768 * 768


def test_damaged_layer_bytes_are_refused_naming_the_layer():
    config = MaskingConfig(seed=2)
    ((_, scores),) = initial_scores(config, [("w", (300, 200))])
    bins = score_bins(scores, config)
    mask = (bins >= BINS_PER_SIDE) ^ (np.random.default_rng(0).random(bins.size) < 0.05)
    coded = encode_layer(mask, bins)
    for damaged in (coded[:-4], coded[:8], coded[:4] + bytes(len(coded) - 4), coded[:3]):
        with pytest.raises(MaskCodingError, match=r"^layer 'w': "):
            decode_layer(damaged, bins, "w")


def test_decoding_with_another_seed_is_refused_naming_the_layer():
    config, layers = MaskingConfig(seed=1), _layers(2)
    coded = encode_masks(
        _flipped_masks(config, layers, 0.2, np.random.default_rng(0)), config, ["layer0", "layer1"]
    )
    with pytest.raises(
        MaskCodingError, match=r"layer 'layer0': (decoded mask fails its CRC-32|coded mask's bin table)"
    ):
        decode_masks(coded, MaskingConfig(seed=2), layers)


def test_decoding_with_a_layer_missing_is_refused_naming_it():
    config, layers = MaskingConfig(seed=1), _layers(3)
    coded = encode_masks(
        _flipped_masks(config, layers, 0.2, np.random.default_rng(0)), config, [n for n, _ in layers]
    )
    del coded["layer1"]
    with pytest.raises(MaskCodingError, match=r"^layer 'layer1': no coded mask$"):
        decode_masks(coded, config, layers)


def test_a_failed_decode_names_the_versions_it_was_coded_under_when_they_differ():
    """torch's generator and constriction's stream format are what a coded mask depends on besides the seed:
    a failed decode names both recorded versions beside this machine's; other versions alone, with a decode
    that passes its CRC-32 check, are no error."""
    config, layers = MaskingConfig(seed=1), _layers(2)
    masks = _flipped_masks(config, layers, 0.2, np.random.default_rng(0))
    coded = encode_masks(masks, config, ["layer0", "layer1"])
    old = {"torch": "1.0.0", "constriction": "0.1.0"}
    current = coding_versions()
    with pytest.raises(MaskCodingError) as caught:
        decode_masks(coded, MaskingConfig(seed=2), layers, versions=old)
    assert str(caught.value).startswith("layer 'layer0': ")
    assert str(caught.value).endswith(
        f"(coded under torch 1.0.0, constriction 0.1.0; decoded under torch {current['torch']}, "
        f"constriction {current['constriction']})"
    )
    with pytest.raises(MaskCodingError) as same:
        decode_masks(coded, MaskingConfig(seed=2), layers, versions=current)
    assert "coded under" not in str(same.value)
    decoded = decode_masks(coded, config, layers, versions=old)
    assert all(torch.equal(decoded[n], masks[n]) for n in masks)


def _trained(base_dir, seed=3):
    model = build_model(base_dir, task_view("single"), "masking", seed=seed)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=2e-2)
    torch.manual_seed(0)
    for _ in range(4):
        loss = model(input_ids=torch.randint(5, 100, (8, 7)), labels=torch.randint(0, 3, (8,))).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(params=["bert", "distilbert"])
def coded_artifact(request, tiny_model_dirs, tmp_path):
    base = tiny_model_dirs[request.param]
    model = _trained(base)
    path = save_artifact(model, tmp_path / "mask.safetensors", base_model=base, task=TASK, coding="flips")
    return model, path, base


def test_trained_mask_round_trips_through_a_coded_artifact(coded_artifact):
    model, path, _ = coded_artifact
    loaded, metadata = load_artifact(path)
    assert metadata["mask_coding"] == "flips"
    assert metadata["coding_versions"] == {
        "torch": torch.__version__,
        "constriction": version("constriction"),
    }
    original, restored = binary_masks(model), binary_masks(loaded)
    assert all(torch.equal(original[n], restored[n]) for n in original)
    size = model_coded_size(model)
    assert 0 < size["flipped"] and size["bits_per_weight"] < 1.0
    ids = torch.randint(5, 100, (3, 9))
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, loaded(input_ids=ids).logits)


def _header(path):
    data = path.read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    return data, length, json.loads(data[8 : 8 + length])


def test_corrupted_coded_layer_is_refused_naming_file_and_layer(coded_artifact, tmp_path):
    _, path, _ = coded_artifact
    data, length, header = _header(path)
    name = next(
        n
        for n in header
        if n.startswith("coded/") and header[n]["data_offsets"][1] - header[n]["data_offsets"][0] > 16
    )
    start = 8 + length + header[name]["data_offsets"][0] + 14
    corrupted = tmp_path / "corrupted.safetensors"
    corrupted.write_bytes(data[:start] + bytes([data[start] ^ 0x5A]) + data[start + 1 :])
    with pytest.raises(ArtifactError, match=rf"corrupted.safetensors: .*tensor '{name}'"):
        load_artifact(corrupted)


def test_truncated_coded_file_is_refused_naming_file_and_layer(coded_artifact, tmp_path):
    _, path, _ = coded_artifact
    data, length, _ = _header(path)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: 8 + length + 40])
    with pytest.raises(ArtifactError, match=r"truncated.safetensors: unreadable .*tensor '.*' is cut off"):
        load_artifact(truncated)


def test_coded_artifact_for_another_base_model_is_refused(coded_artifact, tiny_model_dirs):
    _, path, _ = coded_artifact
    with pytest.raises(ArtifactError, match=r"mask.safetensors: made for base model"):
        load_artifact(path, base_model=tiny_model_dirs["roberta"])


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert"])
def test_coded_size_of_a_one_bit_artifact_equals_that_of_the_model(tiny_model_dirs, tmp_path, family):
    from maskbert.adapter import mask_coded_size

    model = _trained(tiny_model_dirs[family])
    path = save_artifact(model, tmp_path / "mask.safetensors", base_model=tiny_model_dirs[family], task=TASK)
    assert mask_coded_size(path) == model_coded_size(model)  # layer order rebuilt from a format-1 file


def test_regenerated_scores_equal_torchs_arithmetic_bit_for_bit():
    config = MaskingConfig(seed=11, initial_sparsity=0.07)
    high = config.init_low + (config.threshold - config.init_low) / config.initial_sparsity
    ((_, scores),) = initial_scores(config, [("w", (1000, 997))])
    reference = (
        torch.rand((1000, 997), generator=torch.Generator().manual_seed(11)) * (high - config.init_low)
        + config.init_low
    )
    assert torch.equal(scores, reference)
