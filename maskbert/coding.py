"""Masks below one bit per weight: each layer's flips against its seeded initial mask, entropy-coded.

A trained mask differs from the initial mask ``1[s0 >= tau]`` in a few percent of positions, and those
flips sit where the initial score s0 lay close to tau. The initial scores are regenerated from the seed
and the masking config (a CPU ``torch.Generator`` drawn layer by layer in the order ``mask_model`` used,
so neither the device the run trained on nor the thread count matters), each weight gets one of 64 bins
of its initial score, and the flips of a bin are coded as i.i.d. bits with that bin's flip probability
(an ANS stream from ``constriction``).

Bins: 32 on each side of tau, by distance |s0 - tau|, in half-octaves read off the float32 bit pattern
(exponent and top mantissa bit), so binning is exact integer work that every machine does alike; the
top bin of a side holds the largest distance the initialisation can produce and the bottom bin
everything closer than 2^-16 of it.

The initial scores come from torch's CPU generator and the stream from constriction, so a coded artifact
records both versions (``coding_versions()``); a decode whose CRC-32 check fails under other versions names
them. Other versions alone are no error: a decode that passes its check is the mask, bit for bit.

One layer's coded bytes (all counted in the coded size):
  4 bytes  CRC-32 of the decoded mask (bit-packed), so a wrong decode is an error, never a wrong mask
  rest     one ANS stream (little-endian uint32 words) holding, in decoding order: for every bin that has
           weights, whether it has flips; for each bin with flips, its probability level (255: every weight
           of the bin flipped; 1..254: a logit on a 1/4 grid, quantized from the bin's flip count) as the
           step from the previous such bin's level; then the flips, bins in index order, weights in layer
           order
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Mapping
from importlib.metadata import version

import constriction
import numpy as np
import torch

from maskbert.masking import MaskingConfig

BINS_PER_SIDE = 32
BINS = 2 * BINS_PER_SIDE
LOGIT_STEP = 1 / 4
FIXED_POINT = 2**24
HEADER_BYTES = 4


class MaskCodingError(ValueError):
    """Coded mask bytes that cannot be decoded into the mask they were made from."""


def coding_versions() -> dict[str, str]:
    """The versions a coded mask depends on: torch (the CPU generator that regenerates the initial scores)
    and constriction (the ANS stream format)."""
    return {"torch": torch.__version__, "constriction": version("constriction")}


def _versions_note(recorded: Mapping[str, str] | None) -> str:
    """' (coded under torch A, constriction B; decoded under ...)' when the recorded versions differ."""
    current = coding_versions()
    if not recorded or all(recorded.get(k) == v for k, v in current.items()):
        return ""

    def named(versions):
        return ", ".join(f"{k} {versions.get(k, 'unknown')}" for k in current)

    return f" (coded under {named(recorded)}; decoded under {named(current)})"


def _level_probabilities() -> np.ndarray:
    """Flip probability of each level, rounded to a 2^-24 grid so every machine's exp() gives the same model."""
    levels = np.zeros(256)
    for level in range(1, 255):
        scaled = FIXED_POINT / (1 + math.exp(-(level - 127.5) * LOGIT_STEP))
        assert abs(scaled - math.floor(scaled) - 0.5) > 1e-6, "level probability too close to a rounding tie"
        levels[level] = min(max(round(scaled), 1), FIXED_POINT - 1) / FIXED_POINT
    levels[255] = 1.0
    return levels


LEVEL_PROBABILITY = _level_probabilities()


def initial_scores(
    config: MaskingConfig, layers: list[tuple[str, tuple[int, ...]]]
) -> Iterator[tuple[str, torch.Tensor]]:
    """The scores mask_model gave each layer, regenerated on the CPU from config.seed.

    `layers` must be in mask_model's order (``model.maskbert.masking.layer_names``): the generator is
    shared across layers. Mirrors ``MaskedLinear.init_scores`` (a test holds the two equal).
    """
    generator = torch.Generator().manual_seed(config.seed)
    high = config.init_low + (config.threshold - config.init_low) / config.initial_sparsity
    scale, offset = np.float32(high - config.init_low), np.float32(config.init_low)
    for name, shape in layers:
        scores = torch.rand(tuple(shape), generator=generator)
        # torch's float32 `* scale + low` in numpy, in place: the same two correctly rounded float32 operations
        # without torch's thread pool, which a busy machine makes many times slower
        values = scores.numpy()
        np.multiply(values, scale, out=values)
        np.add(values, offset, out=values)
        yield name, scores


def _bin_table(config: MaskingConfig) -> np.ndarray:
    """Bin of every value of the top 10 bits of float32(s0 - tau): sign, exponent, first mantissa bit."""
    high = config.init_low + (config.threshold - config.init_low) / config.initial_sparsity
    keys = np.arange(1024, dtype=np.int64)
    below, magnitude = keys >> 9, keys & 511
    spans = np.array([high - config.threshold, config.threshold - config.init_low], dtype=np.float32)
    top = (spans.view(np.int32) >> 22)[below]
    bins = np.clip(magnitude - top + BINS_PER_SIDE - 1, 0, BINS_PER_SIDE - 1)
    return np.where(below == 1, bins, bins + BINS_PER_SIDE).astype(np.uint8)


def score_bins(scores: torch.Tensor, config: MaskingConfig) -> np.ndarray:
    """Bin (0..63, uint8) of each initial score, flattened: 0..31 below tau, 32..63 at or above.

    Works in place: `scores` (a CPU float32 tensor) is overwritten, sparing a copy of every layer.

    float32 subtraction is exactly rounded and gives +0 only for s0 == tau, so the sign bit of
    s0 - tau is the initial mask bit and the bin is a table lookup on the difference's top bits.
    """
    difference = scores.detach().reshape(-1).numpy()
    np.subtract(difference, np.float32(config.threshold), out=difference)
    keys = difference.view(np.uint32)
    np.right_shift(keys, 22, out=keys)
    return _bin_table(config)[keys]


def _bits_entropy(flipped: np.ndarray, counts: np.ndarray) -> float:
    """Sum over bins of n_b * H(k_b / n_b), in bits: the empirical conditional entropy of the flips."""
    mixed = (flipped > 0) & (flipped < counts)
    p = flipped[mixed] / counts[mixed]
    return float(-(counts[mixed] * (p * np.log2(p) + (1 - p) * np.log2(1 - p))).sum())


def _choose_levels(flipped: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each bin's probability level (0: no flips; 255: all flipped; else a Bernoulli level), chosen jointly
    for the bins with flips to minimise payload plus table bits (a shortest path over levels), so a small
    bin does not pay for a level of its own when its neighbours' is nearly as good."""
    levels = np.zeros(BINS, dtype=np.int32)
    with_flips = np.flatnonzero(flipped > 0)
    if with_flips.size == 0:
        return levels
    total, choices = None, []
    for b in with_flips:
        k, n = float(flipped[b]), float(counts[b])
        payload = np.append(
            -(k * LOG2_LEVEL[1:255] + (n - k) * LOG2_NOT_LEVEL[1:255]), 0.0 if k == n else np.inf
        )
        if total is None:
            total = payload + DELTA_BITS[np.arange(1, 256) - FIRST_LEVEL + 254]
            continue
        paths = total[None, :] + STEP_BITS  # [new level, previous level]
        best = paths.argmin(axis=1)
        choices.append(best)
        total = payload + paths[np.arange(255), best]
    level = int(total.argmin())
    for b, best in zip(with_flips[::-1], [*choices[::-1], None]):
        levels[b] = level + 1
        if best is not None:
            level = int(best[level])
    return levels


def _grouped_positions(bins: np.ndarray, coded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the weights whose bin is `coded`, grouped by bin (layer order within a bin), and bin sizes."""
    positions = np.flatnonzero(coded[bins])
    members = bins[positions]
    order = np.argsort(members, kind="stable")
    return positions[order], np.bincount(members, minlength=BINS)


def _delta_model():
    """Categorical model of the step between the levels of consecutive bins with flips (-254..254): weights
    0.7^|step|, built by multiplication alone so every machine gets the same model."""
    weight, weights = 1.0, []
    for _ in range(255):
        weights.append(weight)
        weight *= 0.7
    probabilities = np.array(weights[:0:-1] + weights)
    probabilities /= probabilities.sum()
    return constriction.stream.model.Categorical(probabilities, perfect=False), -np.log2(probabilities)


DELTA_MODEL, DELTA_BITS = _delta_model()
with np.errstate(divide="ignore"):
    LOG2_LEVEL, LOG2_NOT_LEVEL = np.log2(LEVEL_PROBABILITY), np.log2(1 - LEVEL_PROBABILITY)
STEP_BITS = DELTA_BITS[
    np.arange(1, 256)[:, None] - np.arange(1, 256)[None, :] + 254
]  # [new, previous] levels
FIRST_LEVEL = 110  # what the first bin's level is coded against (a flip probability of about 1%)
OCCUPIED_MODEL = constriction.stream.model.Bernoulli(0.75, perfect=False)  # a non-empty bin has flips


def encode_layer(mask: np.ndarray, bins: np.ndarray) -> bytes:
    """Coded bytes of one layer's final mask (flat bool) given its initial-score bins."""
    mask = np.asarray(mask, dtype=bool).reshape(-1)
    flips = mask != (bins >= BINS_PER_SIDE)
    counts = np.bincount(bins, minlength=BINS)
    flipped = np.bincount(bins, weights=flips, minlength=BINS).astype(np.int64)
    levels = _choose_levels(flipped, counts)
    occupied = levels > 0
    positions, sizes = _grouped_positions(bins, occupied)
    encoder = constriction.stream.stack.AnsCoder()
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for b in reversed(np.flatnonzero((levels > 0) & (levels < 255))):
        symbols = flips[positions[starts[b] : starts[b + 1]]].astype(np.int32)
        encoder.encode_reverse(
            symbols, constriction.stream.model.Bernoulli(LEVEL_PROBABILITY[levels[b]], perfect=False)
        )
    table = levels[occupied]
    if (
        table.size
    ):  # pushed after the flips, so decoded before them: each level as the step from the previous one
        encoder.encode_reverse((np.diff(table, prepend=FIRST_LEVEL) + 254).astype(np.int32), DELTA_MODEL)
    encoder.encode_reverse(occupied[counts > 0].astype(np.int32), OCCUPIED_MODEL)  # decoded first of all
    crc = zlib.crc32(np.packbits(mask).tobytes())
    return crc.to_bytes(4, "little") + encoder.get_compressed().astype("<u4").tobytes()


def decode_layer(coded: bytes, bins: np.ndarray, name: str = "") -> np.ndarray:
    """The final mask (flat bool) of one layer from its coded bytes and initial-score bins."""
    where = f"layer '{name}': "
    if len(coded) < HEADER_BYTES or (len(coded) - HEADER_BYTES) % 4:
        raise MaskCodingError(f"{where}coded mask of {len(coded)} bytes does not fit its layout (truncated)")
    crc = int.from_bytes(coded[:HEADER_BYTES], "little")
    try:
        decoder = constriction.stream.stack.AnsCoder(
            np.frombuffer(coded[HEADER_BYTES:], dtype="<u4").astype(np.uint32)
        )
    except ValueError as error:
        raise MaskCodingError(f"{where}coded mask is not a valid ANS stream (corrupted): {error}") from None
    nonempty = np.bincount(bins, minlength=BINS) > 0
    occupied = np.zeros(BINS, dtype=bool)
    occupied[nonempty] = decoder.decode(OCCUPIED_MODEL, int(nonempty.sum())).astype(bool)
    levels = np.zeros(BINS, dtype=np.int32)
    level = FIRST_LEVEL
    for b in np.flatnonzero(occupied):
        level += int(decoder.decode(DELTA_MODEL)) - 254
        if not 1 <= level <= 255:
            raise MaskCodingError(f"{where}coded mask's bin table holds level {level} (corrupted)")
        levels[b] = level
    positions, sizes = _grouped_positions(bins, occupied)
    flips = np.zeros(bins.size, dtype=bool)
    start = 0
    for b in np.flatnonzero(occupied):
        group = positions[start : start + sizes[b]]
        start += sizes[b]
        if levels[b] == 255:
            flips[group] = True
        elif group.size:
            model = constriction.stream.model.Bernoulli(LEVEL_PROBABILITY[levels[b]], perfect=False)
            flips[group] = decoder.decode(model, int(group.size)).astype(bool)
    mask = (bins >= BINS_PER_SIDE) ^ flips
    if not decoder.is_empty() or zlib.crc32(np.packbits(mask).tobytes()) != crc:
        raise MaskCodingError(
            f"{where}decoded mask fails its CRC-32 check (corrupted data, or another seed, "
            "masking config or torch random generator than the mask was coded with)"
        )
    return mask


def encode_masks(
    masks: dict[str, torch.Tensor], config: MaskingConfig, init_order: list[str]
) -> dict[str, bytes]:
    """Coded bytes of every layer; `init_order` is mask_model's layer order (model.maskbert.masking.layer_names)."""
    return code_masks(masks, config, init_order)[0]


def decode_masks(
    coded: dict[str, bytes],
    config: MaskingConfig,
    layers: list[tuple[str, tuple[int, ...]]],
    versions: Mapping[str, str] | None = None,
) -> dict[str, torch.Tensor]:
    """Bool masks of every layer from their coded bytes; `layers` as (name, shape) in mask_model's order.

    `versions`: the coding_versions() the masks were coded under; a failed decode names them when they
    differ from this machine's.
    """
    masks = {}
    for name, scores in initial_scores(config, layers):
        if name not in coded:
            raise MaskCodingError(f"layer '{name}': no coded mask")
        try:
            decoded = decode_layer(coded[name], score_bins(scores, config), name)
        except MaskCodingError as error:
            raise MaskCodingError(f"{error}{_versions_note(versions)}") from None
        masks[name] = torch.from_numpy(decoded).reshape(scores.shape)
    return masks


def coded_size(masks: dict[str, torch.Tensor], config: MaskingConfig, init_order: list[str]) -> dict:
    """Size of the coded masks (headers included) beside the empirical conditional entropy it approaches.

    Returns {bits, bits_per_weight, entropy_bits, entropy_bits_per_weight, weights, flipped,
    flip_fraction}; `entropy_bits` is the sum over layers and bins of n_b H(k_b/n_b).
    """
    return code_masks(masks, config, init_order)[1]


def code_masks(
    masks: dict[str, torch.Tensor], config: MaskingConfig, init_order: list[str]
) -> tuple[dict[str, bytes], dict]:
    """(encode_masks, coded_size) of the masks in one pass: the initial scores are drawn and each layer is
    entropy-coded once (what saving an artifact needs both of)."""
    layers = [(name, tuple(masks[name].shape)) for name in init_order]
    coded, entropy, flipped, weights = {}, 0.0, 0, 0
    for name, scores in initial_scores(config, layers):
        bins = score_bins(scores, config)
        mask = masks[name].reshape(-1).cpu().numpy()
        coded[name] = encode_layer(mask, bins)
        flips = mask != (bins >= BINS_PER_SIDE)
        counts = np.bincount(bins, minlength=BINS)
        entropy += _bits_entropy(np.bincount(bins, weights=flips, minlength=BINS), counts)
        flipped += int(flips.sum())
        weights += bins.size
    bits = 8 * sum(len(c) for c in coded.values())
    return coded, {
        "bits": bits,
        "bits_per_weight": bits / weights,
        "entropy_bits": entropy,
        "entropy_bits_per_weight": entropy / weights,
        "weights": weights,
        "flipped": flipped,
        "flip_fraction": flipped / weights,
    }


def model_coded_size(model) -> dict:
    """coded_size() of a masked model's current masks (what a run's summary.json records)."""
    from maskbert.masking import binary_masks

    info = model.maskbert.masking
    return coded_size(binary_masks(model), info.config, info.layer_names)
