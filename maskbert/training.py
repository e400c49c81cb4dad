"""One training loop for masking and finetuning (paper §4): Adam, early stopping on dev, resumable.

A run directory holds run.json (the resolved config), metrics.jsonl (one line per epoch),
checkpoint.pt (state after the last finished epoch, removed when the run ends), artifact/ (the best
epoch's model: mask.safetensors for masking, a save_pretrained folder for finetuning),
dev_predictions.safetensors (the best epoch's dev logits) and summary.json (written last).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from maskbert.artifact import save_artifact
from maskbert.evaluation import predict
from maskbert.masking import MaskingConfig, binary_masks, mask_changes, masking_report
from maskbert.modeling import build_model
from maskbert.rundir import load_run_model, write_json_atomic


@dataclass
class TrainConfig:
    """Everything that defines a run; `prepared_dir` skips tokenization when the data is ready."""

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
    initial_sparsity: float = 0.05
    masked_blocks: str | None = None
    source: str = "hub"
    path: str | None = None
    prepared_dir: str | None = None
    device: str | None = None

    def __post_init__(self):
        if self.lr <= 0 or self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ValueError(f"lr, epochs, batch_size and patience must be positive: {self}")


def pick_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _save_best(model, out: Path, record: dict) -> None:
    artifact = out / "artifact"
    if record["method"] == "masking":
        task = {"name": record["task"], "kind": record["task_kind"], "label_names": record["label_names"]}
        save_artifact(model, artifact / "mask.safetensors", base_model=record["model"], task=task)
        return
    tmp, previous = out / "artifact.tmp", out / "artifact.previous"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    if artifact.exists():
        shutil.rmtree(previous, ignore_errors=True)
        os.replace(artifact, previous)
    os.replace(tmp, artifact)
    shutil.rmtree(previous, ignore_errors=True)


def train(cfg: TrainConfig) -> dict:
    """Train one (model, task, method, seed, lr) run into cfg.out_dir and return its summary.

    A finished run with the same config is returned as is; an interrupted one resumes from its last
    finished epoch and ends exactly as an uninterrupted run would (on CPU).
    """
    from maskbert.data import collate, load_prepared, prepare

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prepared_dir = cfg.prepared_dir or prepare(cfg.task, cfg.model, cfg.source, cfg.path, max_length=cfg.max_length)
    prepared = load_prepared(prepared_dir)
    task = prepared.task
    if task.name != cfg.task:
        raise ValueError(f"{prepared_dir}: prepared for task '{task.name}', but the run is for '{cfg.task}'")
    if prepared.meta["max_length"] != cfg.max_length:
        raise ValueError(f"{prepared_dir}: tokenized with max_length {prepared.meta['max_length']}, "
                         f"but the run asks for {cfg.max_length}")
    record = {**asdict(cfg), "source": prepared.meta["source"], "path": prepared.meta["path"],
              "prepared_dir": str(prepared_dir), "task_kind": task.kind,
              "label_names": list(task.label_names), "metric": task.metric}
    record.pop("device")
    summary_path, checkpoint_path, log_path = out / "summary.json", out / "checkpoint.pt", out / "metrics.jsonl"
    if summary_path.exists() and (out / "run.json").exists():
        if json.loads((out / "run.json").read_text()) == record:
            return json.loads(summary_path.read_text())
        summary_path.unlink()
    write_json_atomic(out / "run.json", record)

    device = cfg.device or pick_device()
    masking = MaskingConfig(masked_blocks=cfg.masked_blocks, initial_sparsity=cfg.initial_sparsity)
    model = build_model(cfg.model, task, cfg.method, cfg.seed, masking).to(device)
    initial_masks = binary_masks(model) if cfg.method == "masking" else None
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.Adam(trainable.values(), lr=cfg.lr)
    state = {"epoch": 0, "best_score": -math.inf, "best_epoch": 0, "epochs_without_improvement": 0}

    checkpoint = torch.load(checkpoint_path, weights_only=False) if checkpoint_path.exists() else None
    if checkpoint is not None and checkpoint["record"] == record:
        with torch.no_grad():
            for name, value in checkpoint["trainable"].items():
                trainable[name].copy_(value)
        optimizer.load_state_dict(checkpoint["optimizer"])
        torch.set_rng_state(checkpoint["rng"])
        if checkpoint.get("cuda_rng") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["cuda_rng"])
        state = checkpoint["state"]
        kept = [line for line in log_path.read_text().splitlines() if json.loads(line)["epoch"] <= state["epoch"]]
        log_path.write_text("".join(line + "\n" for line in kept))
    else:
        log_path.write_text("")

    train_rows = list(prepared.splits["train"])
    dev_split = prepared.splits["dev"]
    while state["epoch"] < cfg.epochs and state["epochs_without_improvement"] < cfg.patience:
        epoch = state["epoch"] + 1
        started = time.time()
        model.train()
        order = torch.randperm(len(train_rows), generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))
        total_loss, steps = 0.0, 0
        progress = tqdm(range(0, len(train_rows), cfg.batch_size), desc=f"epoch {epoch}/{cfg.epochs}",
                        mininterval=5, leave=False)
        for start in progress:
            batch = collate([train_rows[i] for i in order[start : start + cfg.batch_size].tolist()],
                            prepared.pad_token_id)
            loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{out}: loss became {loss.item()} at epoch {epoch}, step {steps + 1}; "
                                         f"try a smaller learning rate than {cfg.lr}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.item()
            steps += 1
        dev = predict(model, dev_split, task, prepared.pad_token_id, 2 * cfg.batch_size, device)
        dev_score = float(dev.score(task))
        if not math.isfinite(dev_score):
            raise FloatingPointError(f"{out}: dev {task.metric} is {dev_score} at epoch {epoch}")
        improved = dev_score > state["best_score"]
        line = {"epoch": epoch, "train_loss": total_loss / max(steps, 1), "dev_score": dev_score,
                "metric": task.metric, "improved": improved, "seconds": round(time.time() - started, 2)}
        if initial_masks is not None:
            line["mask_sparsity"] = masking_report(model)["sparsity"]
            line["mask_changed"] = mask_changes(initial_masks, binary_masks(model))
        if improved:
            _save_best(model, out, record)
            dev.save(out / "dev_predictions.safetensors")
            state.update(best_score=dev_score, best_epoch=epoch, epochs_without_improvement=0)
        else:
            state["epochs_without_improvement"] += 1
        state["epoch"] = epoch
        with log_path.open("a") as log:
            log.write(json.dumps(line) + "\n")
        tmp = checkpoint_path.with_name("checkpoint.pt.tmp")
        torch.save({"record": record, "state": state, "optimizer": optimizer.state_dict(),
                    "trainable": {n: p.detach().cpu() for n, p in trainable.items()},
                    "rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}, tmp)
        os.replace(tmp, checkpoint_path)

    dev_path = out / "dev_predictions.safetensors"
    if not dev_path.exists():  # removed by a workflow manager before it reran the interrupted job
        best_model = load_run_model(out, device=device)
        predict(best_model, dev_split, task, prepared.pad_token_id, 2 * cfg.batch_size, device).save(dev_path)
    history = [json.loads(line) for line in log_path.read_text().splitlines()]
    best = history[state["best_epoch"] - 1]
    summary = {"best_epoch": state["best_epoch"], "best_dev_score": state["best_score"], "metric": task.metric,
               "epochs_run": state["epoch"], "trainable_parameters": sum(p.numel() for p in trainable.values()),
               **{k: best[k] for k in ("mask_sparsity", "mask_changed") if k in best}, "done": True}
    if initial_masks is not None:
        summary["masked_weights"] = sum(m.numel() for m in initial_masks.values())
    write_json_atomic(summary_path, summary)
    checkpoint_path.unlink(missing_ok=True)
    return summary
