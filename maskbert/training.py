"""One training loop for every method (paper §4): Adam, early stopping on dev, resumable.

`train` reads top to bottom: set-up, resume, one epoch, evaluate and keep the best, finish. The run
directory's files are listed in `maskbert.rundir`. While a run is unfinished its resumable state (the
checkpoint, and the best epoch's artifact and dev predictions so far) lives in RUN/.progress/, which is
not one of the run's outputs: a workflow manager that deletes the outputs of an interrupted job before
rerunning it leaves it in place, and the rerun resumes. Finishing publishes the best artifact and dev
predictions into RUN/, writes summary.json last and removes RUN/.progress/.
"""

from __future__ import annotations

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

from maskbert.devices import check_device, pick_device
from maskbert.evaluation import Predictions, predict
from maskbert.families import check_max_length
from maskbert.methods import get_method
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
    replace_dir,
    write_json_atomic,
    write_lines_atomic,
)


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

    def __post_init__(self):
        for name in ("lr", "epochs", "patience", "batch_size", "max_length"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} {getattr(self, name)}: expected a positive number")
        method = get_method(self.method)  # an unknown method, option or value fails here, before any file
        method.check_options(method.resolve_options(self.options, self.model), self.model)


def train(cfg: TrainConfig, overwrite: bool = False) -> dict:
    """Train one (model, task, method, seed, lr) run into cfg.out_dir and return its summary.

    A finished run with the same config is returned as is; an interrupted one resumes from its last
    finished epoch and ends exactly as an uninterrupted run would (on CPU). The run's files are written
    beside any others in cfg.out_dir; a run with another config there is replaced only with `overwrite`.
    """
    # set-up
    check_limits(cfg)
    out = Path(cfg.out_dir)
    method = get_method(cfg.method)
    prepared = _load_prepared(cfg)
    out.mkdir(parents=True, exist_ok=True)  # after the data is read: a bad input leaves no empty folder
    task = prepared.task
    record = run_record(cfg, prepared)
    if not overwrite:
        _check_no_other_run(out, record)
    finished = _finished_summary(out, record)
    if finished is not None:
        _remove(out / PROGRESS)  # left behind if the finishing run was killed right after summary.json
        return finished
    for stale in (SUMMARY, DEV_PREDICTIONS, ARTIFACT):  # outputs of an earlier run with another config
        _remove(out / stale)
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
    record["options"] = get_method(cfg.method).resolve_options(cfg.options, cfg.model)
    task = prepared.task
    record.update(
        source=prepared.meta["source"],
        path=prepared.meta["path"],
        prepared_dir=str(prepared.path),
        task_kind=task.kind,
        label_names=list(task.label_names),
        metric=task.metric,
    )
    return record


def _load_prepared(cfg: TrainConfig):
    from maskbert.data import load_prepared, prepare

    prepared_dir = cfg.prepared_dir or prepare(
        cfg.task, cfg.model, cfg.source, cfg.path, max_length=cfg.max_length
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


def _check_no_other_run(out: Path, record: dict) -> None:
    """Refuse to replace another run's files (run.json of another config, or outputs without a run.json)."""
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
    elif previous != record:
        key = next((k for k in record if previous.get(k) != record[k]), "run.json")
        raise FileExistsError(
            f"{out}: holds a run with another config ({key} {json.dumps(previous.get(key))}, now "
            f"{json.dumps(record.get(key))}); pass --overwrite to replace it, or choose another --out"
        )


def _finished_summary(out: Path, record: dict) -> dict | None:
    """The summary of a finished run with this very config whose artifact is as training left it, else
    None; a damaged artifact is reported (a warning naming the file) and the run trained again."""
    summary, run_json = out / SUMMARY, out / RUN_JSON
    done = summary.is_file() and run_json.is_file() and (out / ARTIFACT).is_dir()
    if not done or json.loads(run_json.read_text()) != record:
        return None
    finished = json.loads(summary.read_text())
    damage = artifact_damage(out / ARTIFACT, finished.get(ARTIFACT_SHA256))
    if damage:
        warnings.warn(f"{out}: {damage}; training the run again", stacklevel=3)
        return None
    return finished


def _resume(checkpoint_path: Path, record: dict, trainable: dict, optimizer) -> dict | None:
    """Restore the trainable parameters, optimizer and RNG of the last finished epoch; its training state."""
    if not checkpoint_path.is_file():
        return None
    checkpoint = torch.load(checkpoint_path, weights_only=False)
    if checkpoint["record"] != record:
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
    order = torch.randperm(
        len(train_rows), generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    )
    total_loss, steps = 0.0, 0
    progress = tqdm(
        range(0, len(train_rows), cfg.batch_size),
        desc=f"epoch {epoch}/{cfg.epochs}",
        mininterval=5,
        leave=False,
    )
    for start in progress:
        batch = collate([train_rows[i] for i in order[start : start + cfg.batch_size].tolist()], pad_token_id)
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
    saved = method.save(model, staging, record)
    replace_dir(staging, progress / ARTIFACT)
    dev.save(progress / DEV_PREDICTIONS)
    return saved


def _save_checkpoint(path: Path, record: dict, state: dict, optimizer, trainable: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(
            {
                "record": record,
                "state": state,
                "optimizer": optimizer.state_dict(),
                "trainable": {n: p.detach().cpu() for n, p in trainable.items()},
                "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
            tmp,
        )


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
