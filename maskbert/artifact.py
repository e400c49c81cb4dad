"""A trained masking run as a small file: 1-bit masks, the random head weights, and metadata.

Layout of ``mask.safetensors``:
- ``mask/<layer>``: uint8, the layer's binary mask flattened and bit-packed (8 weights per byte); or, in a
  coded artifact (format 2, ``mask_coding: "flips"``), ``coded/<layer>``: uint8, the layer's flips against
  its seeded initial mask, entropy-coded by ``maskbert.coding`` (well below one bit per weight);
- ``head/<parameter>``: fp32, every parameter not in the pretrained checkpoint (the randomly initialised
  classifier, and the dense layer RoBERTa's/DistilBERT's heads add), kept at its initial values;
- metadata ``maskbert``: JSON with the base model, its fingerprint, layer shapes, threshold, masking
  config, task, a SHA-256 of the tensor bytes so that corruption is detected, and (format 2) a CRC-32 per
  tensor so that the error names the layer, the torch and constriction versions the coding depends on
  (``coding_versions``: a decode that fails under other versions names them), and last
  ``metadata_sha256``, the SHA-256 of the JSON text of the fields before it, so that a flipped bit in the
  header (a label name, a shape) is detected too (files written before it are read without it). One
  metadata key only: safetensors writes several in an order that changes from process to process, and
  the file's bytes would too.

The base model itself is not stored: ``load_artifact`` rebuilds the task model from the base model's
files and checks the fingerprint before applying the masks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from maskbert.coding import MaskCodingError, coding_versions, decode_masks, encode_masks
from maskbert.families import CLASSIFIER_NAMES, POOLER_NAMES, block_layer_names, family_of
from maskbert.masking import MaskingConfig, binary_masks, mask_model, masked_layers
from maskbert.modeling import TaskRecord, load_task_model, model_record
from maskbert.rundir import atomic_path

FORMAT_VERSION = 1
CODED_FORMAT_VERSION = 2
MASK_PREFIX, CODED_PREFIX, HEAD_PREFIX = "mask/", "coded/", "head/"
MASK_CODINGS = ("bits", "flips")


class ArtifactError(ValueError):
    """An artifact that cannot be applied: unreadable, corrupted, or made for another base model."""


def check_base(
    where: str, base_model: str, expected: str | None, fingerprint: str, loaded: str | None = None
):
    """Refuse an artifact made for another base checkpoint (fingerprint `expected`, recorded with
    `base_model`) than the one loaded (fingerprint `fingerprint`, named `loaded`); the one base check of
    every method, in loading and serving alike. An artifact that records no fingerprint passes."""
    if expected is not None and expected != fingerprint:
        raise ArtifactError(
            f"{where}: made for base model '{base_model}' (fingerprint {expected}), but the base model"
            f"{f' {loaded!r}' if loaded else ''} loaded has fingerprint {fingerprint}"
        )


def _tensor_checksum(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].contiguous().numpy().tobytes())
    return digest.hexdigest()


def pack_mask(mask: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.packbits(mask.reshape(-1).numpy().astype(np.uint8)))


def unpack_mask(packed: torch.Tensor, shape: list[int]) -> torch.Tensor:
    count = int(np.prod(shape))
    bits = np.unpackbits(packed.numpy())[:count]
    return torch.from_numpy(bits.astype(bool)).reshape(shape)


def _tensor_crc32(tensors: dict[str, torch.Tensor]) -> dict[str, int]:
    return {
        name: zlib.crc32(tensor.contiguous().numpy().tobytes()) for name, tensor in sorted(tensors.items())
    }


def save_artifact(
    model: nn.Module,
    path: str | Path,
    *,
    base_model: str,
    task: TaskRecord,
    coding: str = "bits",
    coded: dict[str, bytes] | None = None,
) -> Path:
    """Write the masks and head of a masked model to `path` (atomically).

    `coding` "bits" stores 1 bit per weight (format 1); "flips" stores the entropy-coded flips against
    the seeded initial masks (format 2, see maskbert.coding): `coded`, when the caller has coded the
    masks already, else coded here.
    """
    if coding not in MASK_CODINGS:
        raise ValueError(f"coding '{coding}': expected one of {', '.join(MASK_CODINGS)}")
    record = model_record(model)
    info = record.masking
    masks = binary_masks(model)
    state = model.state_dict()
    if coding == "bits":
        tensors = {MASK_PREFIX + name: pack_mask(mask) for name, mask in masks.items()}
    else:
        coded = coded if coded is not None else encode_masks(masks, info.config, info.layer_names)
        tensors = {
            CODED_PREFIX + name: torch.frombuffer(bytearray(data), dtype=torch.uint8)
            for name, data in coded.items()
        }
    head = list(record.random_init)
    for name in head:
        tensors[HEAD_PREFIX + name] = state[name].detach().float().cpu().contiguous()
    metadata = {
        "format_version": FORMAT_VERSION if coding == "bits" else CODED_FORMAT_VERSION,
        "base_model": base_model,
        "base_fingerprint": record.base_fingerprint,
        "model_class": type(model).__name__,
        "model_type": model.config.model_type,
        "masking": info.config.to_dict(),
        "threshold": info.config.threshold,
        "layers": {name: list(mask.shape) for name, mask in masks.items()},
        "random_init": head,
        "task": TaskRecord.of(task).to_dict(),
        "tensor_sha256": _tensor_checksum(tensors),
    }
    if coding == "flips":
        metadata.update(
            mask_coding=coding,
            init_order=list(info.layer_names),
            tensor_crc32=_tensor_crc32(tensors),
            coding_versions=coding_versions(),
        )
    metadata["metadata_sha256"] = _metadata_checksum(metadata)
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"maskbert": json.dumps(metadata)})
    return path


def _metadata_checksum(metadata: dict) -> str:
    """SHA-256 of the metadata's JSON text without its own checksum (json round trips keep key order)."""
    fields = {k: v for k, v in metadata.items() if k != "metadata_sha256"}
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()


def read_safetensors(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """(metadata, tensors) of a safetensors file; an ArtifactError naming the file (and the tensor cut off,
    or the header's fault) when it is missing, not safetensors, damaged or truncated."""
    if not path.is_file():
        raise ArtifactError(f"{path}: no such artifact file")
    size = path.stat().st_size
    with path.open("rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
    if size < 8 or length > size - 8:
        raise ArtifactError(
            f"{path}: unreadable artifact: its first 8 bytes give a header of {length} bytes, but "
            f"{max(size - 8, 0)} follow (truncated file, damaged header length, or not a safetensors file)"
        )
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError, MemoryError) as error:
        raise ArtifactError(
            f"{path}: unreadable artifact (truncated or corrupted file){_cut_tensor(path)}: "
            f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
        ) from None
    return metadata, tensors


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors artifact file (see read_safetensors)."""
    return read_safetensors(Path(path))[1]


def read_artifact(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Metadata and tensors of an artifact, verified against its checksum."""
    path = Path(path)
    raw, tensors = read_safetensors(path)
    raw = raw.get("maskbert")
    if raw is None:
        raise ArtifactError(f"{path}: field 'maskbert' missing from the safetensors metadata")
    try:
        metadata = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ArtifactError(f"{path}: metadata field 'maskbert' is not valid JSON: {error}") from error
    if not isinstance(metadata, dict):
        raise ArtifactError(f"{path}: metadata field 'maskbert' is not a JSON object")
    if "metadata_sha256" in metadata and _metadata_checksum(metadata) != metadata["metadata_sha256"]:
        raise ArtifactError(f"{path}: metadata does not match its checksum (corrupted file header)")
    for key in (
        "format_version",
        "base_model",
        "base_fingerprint",
        "layers",
        "task",
        "masking",
        "tensor_sha256",
    ):
        if key not in metadata:
            raise ArtifactError(f"{path}: metadata field '{key}' is missing")
    if metadata["format_version"] not in (FORMAT_VERSION, CODED_FORMAT_VERSION):
        raise ArtifactError(
            f"{path}: format_version {metadata['format_version']}, expected {FORMAT_VERSION} "
            f"or {CODED_FORMAT_VERSION}"
        )
    if _tensor_checksum(tensors) != metadata["tensor_sha256"]:
        stored = metadata.get("tensor_crc32", {})
        bad = [name for name, crc in _tensor_crc32(tensors).items() if name in stored and stored[name] != crc]
        which = f" in tensor '{bad[0]}'" if bad else ""
        raise ArtifactError(f"{path}: tensor data does not match its checksum{which} (corrupted file)")
    return metadata, tensors


def _cut_tensor(path: Path) -> str:
    """' (tensor X is cut off)' when the file ends inside the data of tensor X, else ''."""
    try:
        with path.open("rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(length))
    except (OSError, ValueError):
        return ""
    data_bytes = path.stat().st_size - 8 - length
    try:
        cut = sorted(
            (entry["data_offsets"][1], name)
            for name, entry in header.items()
            if name != "__metadata__" and entry["data_offsets"][1] > data_bytes
        )
    except (KeyError, TypeError, IndexError, AttributeError):  # a damaged header: no tensor to name
        return ""
    return f" (tensor '{cut[0][1]}' is cut off)" if cut else ""


def apply_artifact(
    model: nn.Module, metadata: dict, tensors: dict[str, torch.Tensor], path: str = ""
) -> nn.Module:
    """Set the masks and head weights of a freshly built masked model from an artifact."""
    where = f"{path}: " if path else ""
    fingerprint = model_record(model).base_fingerprint
    check_base(path or "artifact", metadata["base_model"], metadata["base_fingerprint"], fingerprint)
    layers = masked_layers(model)
    for name, shape in metadata["layers"].items():
        if name not in layers:
            raise ArtifactError(f"{where}layer '{name}' is not masked in the rebuilt model")
        if list(layers[name].weight.shape) != list(shape):
            raise ArtifactError(
                f"{where}layer '{name}' has shape {shape} in the artifact but "
                f"{list(layers[name].weight.shape)} in the model"
            )
    for name, mask in artifact_masks(metadata, tensors, path).items():
        layers[name].set_binary_mask(mask.to(layers[name].scores.device))
    state = model.state_dict()
    for name in metadata["random_init"]:
        value = tensors.get(HEAD_PREFIX + name)
        if value is None or name not in state or tuple(value.shape) != tuple(state[name].shape):
            raise ArtifactError(f"{where}head parameter '{name}' is missing or has the wrong shape")
        with torch.no_grad():
            model.get_parameter(name).copy_(value)
    return model


def artifact_masks(
    metadata: dict, tensors: dict[str, torch.Tensor], path: str = ""
) -> dict[str, torch.Tensor]:
    """Bool mask of every layer of an artifact (1-bit or coded), checked against the recorded shapes."""
    where = f"{path}: " if path else ""
    if metadata.get("mask_coding") != "flips":
        masks = {}
        for name, shape in metadata["layers"].items():
            packed = tensors.get(MASK_PREFIX + name)
            if packed is None or packed.numel() != (int(np.prod(shape)) + 7) // 8:
                raise ArtifactError(f"{where}mask of layer '{name}' is missing or has the wrong length")
            masks[name] = unpack_mask(packed, shape)
        return masks
    order = metadata["init_order"]
    missing = [name for name in order if CODED_PREFIX + name not in tensors or name not in metadata["layers"]]
    if missing:
        raise ArtifactError(f"{where}coded mask of layer '{missing[0]}' is missing")
    try:
        return decode_masks(
            {name: tensors[CODED_PREFIX + name].numpy().tobytes() for name in order},
            masking_config(metadata),
            [(name, tuple(metadata["layers"][name])) for name in order],
            metadata.get("coding_versions"),
        )
    except MaskCodingError as error:
        raise ArtifactError(f"{where}{error}") from error


def init_order(metadata: dict) -> list[str]:
    """The artifact's masked layers in mask_model's order (recorded in coded artifacts, rebuilt for 1-bit ones)."""
    if "init_order" in metadata:
        return list(metadata["init_order"])
    layers = metadata["layers"]
    family = family_of(SimpleNamespace(model_type=metadata["model_type"]))
    prefix = family.block_format.split("{")[0]
    blocks = sorted({int(n[len(prefix) :].split(".")[0]) for n in layers if n.startswith(prefix)})
    order = [
        n
        for n in block_layer_names(family, tuple(blocks), masking_config(metadata).layer_types)
        if n in layers
    ]
    order += [n for n in (*POOLER_NAMES, *CLASSIFIER_NAMES) if n in layers]
    if sorted(order) != sorted(layers):
        raise ArtifactError(f"cannot order the masked layers {sorted(set(layers) - set(order))}")
    return order


def masking_config(metadata: dict) -> MaskingConfig:
    """The MaskingConfig an artifact's metadata records."""
    return MaskingConfig.from_dict(metadata["masking"])


def load_artifact(path: str | Path, base_model: str | None = None, device: str = "cpu"):
    """Rebuild the task model from an artifact: the base model (the recorded one unless given) plus masks.

    Returns (model, metadata). Fails with ArtifactError naming the file and the layer or field at fault.
    """
    metadata, tensors = read_artifact(path)
    task = TaskRecord.of(metadata["task"])
    masking = masking_config(metadata)
    with quiet_load_report():
        model = load_task_model(base_model or metadata["base_model"], task, masking.seed)
    model = mask_model(model, masking)
    model.to(device)
    apply_artifact(model, metadata, tensors, str(path))
    model.eval()
    return model, metadata


@contextlib.contextmanager
def quiet_load_report():
    """Silence transformers' loading report ("... MISSING ... newly initialized") while a model is built
    whose new head weights the artifact then restores: the report would tell the user the model is untrained."""
    logger = logging.getLogger("transformers.modeling_utils")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
