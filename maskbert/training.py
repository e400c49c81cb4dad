"""One training loop for every method (paper §4): Adam, early stopping on dev, resumable.

`train` reads top to bottom: set-up, resume, one epoch, evaluate and keep the best, finish. The run
directory's files are listed in `maskbert.rundir`. While a run is unfinished its resumable state (the
checkpoint, and the best epoch's artifact and dev predictions so far) lives in RUN/.progress/, which is
not one of the run's outputs: a workflow manager that deletes the outputs of an interrupted job before
rerunning it leaves it in place, and the rerun resumes. Finishing publishes the best artifact and dev
predictions into RUN/, writes summary.json last and removes RUN/.progress/.

A run never lies about what it is: one process writes RUN/ at a time (`maskbert.rundir.run_lock`); run.json
and the checkpoint record fingerprints of the tokenized data and of a local model's files beside the
config, and a rerun whose inputs differ from the recorded ones is refused naming what changed (or, with
`overwrite`, started again), never resumed onto or answered from the old run; everything that can be
refused is checked before RUN/ is created, and a run that fails before it kept anything removes what it
created; files in RUN/artifact/ that no run wrote are kept, or moved aside when the run is trained again.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoConfig

from maskbert.batching import epoch_batches, row_length
from maskbert.devices import check_device, pick_device
from maskbert.evaluation import Predictions, predict
from maskbert.families import check_max_length
from maskbert.methods import get_method
from maskbert.precision import check_precision, forward_precision, matmul_precision
from maskbert.pretrained import resolve_model_path
from maskbert.rundir import (
    ARTIFACT,
    ARTIFACT_SHA256,
    CHECKPOINT,
    DEV_PREDICTIONS,
    METRICS,
    PROGRESS,
    RUN_JSON,
    SUMMARY,
    artifact_checksums,
    artifact_damage,
    atomic_path,
    link_or_copy_tree,
    removed_if_left_empty,
    replace_dir,
    reporting_full_disk,
    run_lock,
    set_aside_unknown_files,
    write_json_atomic,
    write_lines_atomic,
)

# run.json fields added after runs were first recorded: an older run.json without them is compared without
# them (its data was not fingerprinted), so its finished runs stay finished.
LATER_FIELDS = ("encoding", "data_fingerprint", "model_fingerprint")
# What a changed fingerprint means, for a refusal.
FINGERPRINTS = {"data_fingerprint": "training data changed", "model_fingerprint": "the model's files changed"}


@dataclass
class TrainConfig:
    """Everything that defines a run; `prepared_dir` skips tokenization when the data is ready.

    `options` are the method's own (a JSON object, e.g. masking's {"masked_blocks": "2-11",
    "initial_sparsity": 0.05}); run.json records them resolved, every default filled in.
    """

    model: str
    task: str
    method: str
    seed: int
    lr: float
    out_dir: str
    epochs: int = 10
    patience: int = 2
    batch_size: int = 32
    max_length: int = 128
    options: dict | None = None
    source: str = "hub"
    path: str | None = None
    prepared_dir: str | None = None
    device: str | None = None
    group_by_length: bool = False  # batches of similar length (maskbert.batching); off in the paper
    precision: str = "fp32"  # fp32, tf32 or bf16 training steps (maskbert.precision)
    encoding: str | None = None  # a registry task's local files' encoding (a data file's is in its name)
    wait: bool = False  # another process writing out_dir: wait for it (else refuse); not part of the run

    def __post_init__(self):
        for name in ("lr", "epochs", "patience", "batch_size", "max_length"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} {value}: expected a positive number")
        check_precision(self.precision)
        method = get_method(self.method)  # an unknown method, option or value fails here, before any file
        method.check_options(method.resolve_options(self.options, self.model), self.model)


def train(cfg: TrainConfig, overwrite: bool = False) -> dict:
    """Train one (model, task, method, seed, lr) run into cfg.out_dir and return its summary.

    A finished run with the same config and inputs is returned as is; an interrupted one resumes from its
    last finished epoch and ends exactly as an uninterrupted run would (on CPU). The run's files are
    written beside any others in cfg.out_dir; a run with another config or other inputs there is refused
    naming what differs, and replaced only with `overwrite`. One process writes cfg.out_dir at a time:
    another one is refused (or, with cfg.wait, waits for it).
    """
    # set-up: everything that can be refused is checked before the run folder is touched
    check_limits(cfg)
    out = Path(cfg.out_dir)
    prepared = _load_prepared(cfg)
    record = run_record(cfg, prepared)
    with removed_if_left_empty(out), run_lock(out, wait=cfg.wait) as lock:
        was_empty = not any(path != lock for path in out.iterdir())
        try:
            return _train_locked(cfg, out, prepared, record, overwrite)
        except BaseException:
            if was_empty and not (out / PROGRESS / CHECKPOINT).is_file():
                for name in (RUN_JSON, METRICS, SUMMARY, DEV_PREDICTIONS, ARTIFACT, PROGRESS):
                    _remove(out / name)  # what this run wrote into a folder that was empty: nothing kept
            raise


def _train_locked(cfg: TrainConfig, out: Path, prepared, record: dict, overwrite: bool) -> dict:
    """`train` once it holds the run folder's lock."""
    method = get_method(cfg.method)
    task = prepared.task
    if not overwrite:
        _check_same_run(out, record)
    finished = _finished_summary(out, record)
    if finished is not None:
        _remove(out / PROGRESS)  # left behind if the finishing run was killed right after summary.json
        return finished
    _clear_outputs(out)
    progress = out / PROGRESS
    device = cfg.device or pick_device()
    model = method.build(cfg.model, task, cfg.seed, record["options"]).to(device)
    start_state = method.start_state(model)
    trainable = method.trainable_parameters(model)
    optimizer = torch.optim.Adam(trainable.values(), lr=cfg.lr)

    # resume
    state = _resume(progress / CHECKPOINT, record, trainable, optimizer)
    if state is None:
        _remove(progress)
        state = {
            "epoch": 0,
            "best_score": -math.inf,
            "best_epoch": 0,
            "epochs_without_improvement": 0,
            "best_fields": {},
            "history": [],
        }
    write_json_atomic(out / RUN_JSON, record)
    write_lines_atomic(out / METRICS, state["history"])

    train_rows = list(prepared.splits["train"])
    while state["epoch"] < cfg.epochs and state["epochs_without_improvement"] < cfg.patience:
        # one epoch
        epoch = state["epoch"] + 1
        started = time.time()
        train_loss = _train_epoch(
            model, optimizer, train_rows, prepared.pad_token_id, cfg, epoch, device, out
        )

        # evaluate and keep the best
        dev = predict(model, prepared.splits["dev"], task, prepared.pad_token_id, 2 * cfg.batch_size, device)
        dev_score = float(dev.score(task))
        if not math.isfinite(dev_score):
            raise FloatingPointError(f"{out}: dev {task.metric} is {dev_score} at epoch {epoch}")
        improved = dev_score > state["best_score"]
        stats = method.epoch_stats(model, start_state)
        if improved:
            saved = _keep_best(method, model, dev, progress, record)
            state.update(
                best_score=dev_score,
                best_epoch=epoch,
                epochs_without_improvement=0,
                best_fields={**stats, **saved},
            )
        else:
            state["epochs_without_improvement"] += 1
        state["epoch"] = epoch
        state["history"].append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "dev_score": dev_score,
                "metric": task.metric,
                "improved": improved,
                **stats,
                "seconds": round(time.time() - started, 2),
            }
        )
        write_lines_atomic(out / METRICS, state["history"])
        _save_checkpoint(progress / CHECKPOINT, record, state, optimizer, trainable)

    # finish
    link_or_copy_tree(progress / DEV_PREDICTIONS, out / DEV_PREDICTIONS)
    _set_aside(out, set(artifact_checksums(progress / ARTIFACT)))  # a file put there while training
    link_or_copy_tree(progress / ARTIFACT, out / ARTIFACT)
    summary = {
        "best_epoch": state["best_epoch"],
        "best_dev_score": state["best_score"],
        "metric": task.metric,
        "epochs_run": state["epoch"],
        "trainable_parameters": sum(p.numel() for p in trainable.values()),
        **state["best_fields"],
        ARTIFACT_SHA256: artifact_checksums(out / ARTIFACT),
        "done": True,
    }
    write_json_atomic(out / SUMMARY, summary)
    _remove(progress)
    return summary


def run_record(cfg: TrainConfig, prepared) -> dict:
    """run.json: the config resolved (data source, task fields, the method's options with defaults)."""
    record = asdict(cfg)
    record.pop("device")
    record.pop("wait")
    record["options"] = get_method(cfg.method).resolve_options(cfg.options, cfg.model)
    task = prepared.task
    record.update(
        source=prepared.meta["source"],
        path=prepared.meta["path"],
        prepared_dir=str(prepared.path),
        task_kind=task.kind,
        label_names=list(task.label_names),
        metric=task.metric,
        data_fingerprint=prepared.meta["fingerprint"],
        model_fingerprint=model_fingerprint(cfg.model),
    )
    return record


def model_fingerprint(model: str) -> str | None:
    """SHA-256 over a local model directory's files (names and contents), read once per run; None for a
    hub id, whose files the hub's revision pins. A run records it so that a model directory whose weights
    were replaced is not resumed onto."""
    path = Path(resolve_model_path(model))
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _load_prepared(cfg: TrainConfig):
    from maskbert.data import load_prepared, prepare

    prepared_dir = cfg.prepared_dir or prepare(
        cfg.task, cfg.model, cfg.source, cfg.path, max_length=cfg.max_length, encoding=cfg.encoding
    )
    prepared = load_prepared(prepared_dir)
    if prepared.task.name != cfg.task:
        raise ValueError(
            f"{prepared_dir}: prepared for task '{prepared.task.name}', but the run is for '{cfg.task}'"
        )
    if prepared.meta["max_length"] != cfg.max_length:
        raise ValueError(
            f"{prepared_dir}: tokenized with max_length {prepared.meta['max_length']}, "
            f"but the run asks for {cfg.max_length}"
        )
    return prepared


def check_limits(cfg: TrainConfig) -> None:
    """What can be known before any work starts: the device is there, the max length fits the model."""
    check_device(cfg.device)
    check_max_length(cfg.max_length, AutoConfig.from_pretrained(resolve_model_path(cfg.model)), cfg.model)


def _record_changes(previous: dict, record: dict, since: str = "the checkpoint") -> list[str]:
    """What differs between a recorded run and this one, each a phrase naming the field and both values
    (a changed fingerprint first, by what it covers); fields an older record lacks (LATER_FIELDS) are
    not compared."""
    changes = []
    for key in dict.fromkeys([*FINGERPRINTS, *previous, *record]):
        if (key in LATER_FIELDS and key not in previous) or previous.get(key) == record.get(key):
            continue
        values = f"{key} {json.dumps(previous.get(key))}, now {json.dumps(record.get(key))}"
        if key in FINGERPRINTS:
            changes.append(f"{FINGERPRINTS[key]} since {since} ({values})")
        else:
            changes.append(f"holds a run with another config ({values})")
    return changes


def _check_same_run(out: Path, record: dict) -> None:
    """Refuse to replace, resume or return another run's files (run.json of another config or of other
    inputs, or outputs without a run.json), naming the first thing that changed."""
    try:
        previous = json.loads((out / RUN_JSON).read_text())
    except FileNotFoundError:
        previous = None
    except ValueError:
        raise FileExistsError(
            f"{out}: its {RUN_JSON} is not valid JSON; pass --overwrite to replace the run, or choose another --out"
        ) from None
    if previous is None:
        found = [name for name in (SUMMARY, METRICS, DEV_PREDICTIONS, ARTIFACT) if (out / name).exists()]
        if found:
            raise FileExistsError(
                f"{out}: holds {', '.join(found)} but no {RUN_JSON}; pass --overwrite to replace them, "
                "or choose another --out"
            )
        return
    since = "the finished run" if (out / SUMMARY).is_file() else "the checkpoint"
    changes = _record_changes(previous, record, since)
    if changes:
        more = f", and {len(changes) - 1} more change(s)" if len(changes) > 1 else ""
        raise FileExistsError(
            f"{out}: {changes[0]}{more}; pass --overwrite to train it again from the start, "
            "or choose another --out"
        )


def _finished_summary(out: Path, record: dict) -> dict | None:
    """The summary of a finished run with this very config whose artifact is as training left it, else
    None; a damaged artifact is reported (a warning naming the file) and the run trained again. Files in
    artifact/ that training did not write are left where they are, named in a warning."""
    summary, run_json = out / SUMMARY, out / RUN_JSON
    done = summary.is_file() and run_json.is_file() and (out / ARTIFACT).is_dir()
    if not done or _record_changes(json.loads(run_json.read_text()), record):
        return None
    finished = json.loads(summary.read_text())
    recorded = finished.get(ARTIFACT_SHA256)
    damage = artifact_damage(out / ARTIFACT, recorded)
    if damage:
        warnings.warn(f"{out}: {damage}; training the run again", stacklevel=4)
        return None
    unknown = sorted(set(artifact_checksums(out / ARTIFACT)) - set(recorded or ()))
    if recorded is not None and unknown:
        warnings.warn(
            f"{out / ARTIFACT}: {', '.join(unknown)} not written by the training run; left in place, "
            "the finished run is used as it is",
            stacklevel=4,
        )
    return finished


def _clear_outputs(out: Path) -> None:
    """Remove an earlier run's summary.json, dev predictions and artifact/ before training; files in
    artifact/ that no run wrote are moved aside first (`_set_aside`), never deleted."""
    known = set()
    try:
        known.update(json.loads((out / SUMMARY).read_text()).get(ARTIFACT_SHA256) or ())
    except (OSError, ValueError):
        pass
    if (out / PROGRESS / ARTIFACT).is_dir():  # published by a run killed before its summary.json
        known.update(artifact_checksums(out / PROGRESS / ARTIFACT))
    _set_aside(out, known)
    for stale in (SUMMARY, DEV_PREDICTIONS, ARTIFACT):
        _remove(out / stale)


def _set_aside(out: Path, known: set[str]) -> None:
    """Move the files of RUN/artifact/ not named in `known` to RUN/kept-files/, saying so in one line."""
    moved = set_aside_unknown_files(out / ARTIFACT, known)
    if moved:
        warnings.warn(
            f"{out / ARTIFACT}: {len(moved)} file(s) not written by a training run moved aside, not "
            f"deleted: {', '.join(str(path) for path in moved)}",
            stacklevel=4,
        )


def _resume(checkpoint_path: Path, record: dict, trainable: dict, optimizer) -> dict | None:
    """Restore the trainable parameters, optimizer and RNG of the last finished epoch; its training state.

    A checkpoint of another config or other inputs is never resumed onto. With run.json present
    `_check_same_run` has refused such a rerun already; without it (a workflow manager deletes the
    outputs of a job it reruns because an input changed) the run starts again, with a warning naming
    what changed.
    """
    if not checkpoint_path.is_file():
        return None
    checkpoint = torch.load(checkpoint_path, weights_only=False)
    changes = _record_changes(checkpoint["record"], record)
    if changes:
        warnings.warn(f"{checkpoint_path}: {changes[0]}; starting the run again", stacklevel=4)
        return None
    with torch.no_grad():
        for name, value in checkpoint["trainable"].items():
            trainable[name].copy_(value)
    optimizer.load_state_dict(checkpoint["optimizer"])
    torch.set_rng_state(checkpoint["rng"])
    if checkpoint.get("cuda_rng") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(checkpoint["cuda_rng"])
    return checkpoint["state"]


def _train_epoch(
    model,
    optimizer,
    train_rows: list,
    pad_token_id: int,
    cfg: TrainConfig,
    epoch: int,
    device: str,
    out: Path,
) -> float:
    """One pass over the training set in an order fixed by (seed, epoch); the mean training loss."""
    from maskbert.data import collate

    model.train()
    lengths = [row_length(row) for row in train_rows]
    batches = epoch_batches(lengths, cfg.batch_size, cfg.seed, epoch, cfg.group_by_length)
    total_loss, steps = 0.0, 0
    progress = tqdm(batches, desc=f"epoch {epoch}/{cfg.epochs}", mininterval=5, leave=False)
    with matmul_precision(cfg.precision, device):
        for indices in progress:
            batch = collate([train_rows[i] for i in indices], pad_token_id)
            with forward_precision(cfg.precision, device):
                loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{out}: loss became {loss.item()} at epoch {epoch}, step {steps + 1}; "
                    f"try a smaller learning rate than {cfg.lr}"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.item()
            steps += 1
    return total_loss / max(steps, 1)


def _keep_best(method, model, dev: Predictions, progress: Path, record: dict) -> dict:
    """Save the new best epoch's artifact and dev predictions into the scratch folder; the method's fields."""
    progress.mkdir(parents=True, exist_ok=True)
    staging = progress / (ARTIFACT + ".tmp")
    _remove(staging)
    staging.mkdir()
    try:
        with reporting_full_disk(staging):
            saved = method.save(model, staging, record)
    except BaseException:
        _remove(staging)  # half-written: never trusted, never left behind
        raise
    replace_dir(staging, progress / ARTIFACT)
    dev.save(progress / DEV_PREDICTIONS)
    return saved


def _save_checkpoint(path: Path, record: dict, state: dict, optimizer, trainable: dict) -> None:
    """The state to resume from, written through an open file: a full disk is then an OSError (ENOSPC),
    not torch's opaque writer error."""
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        torch.save(
            {
                "record": record,
                "state": state,
                "optimizer": optimizer.state_dict(),
                "trainable": {n: p.detach().cpu() for n, p in trainable.items()},
                "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
            handle,
        )


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
