"""Figures 6 and 7 (§6.3, App. B): paths in weight space between the finetuned and the masked model.

Figure 6 evaluates the straight line W(γ) = W0 + γ (W1 − W0) at evenly spaced γ: finetuned (W0) to
masked (W1, the effective weights W ⊙ M, pretrained values where nothing is masked, the masked random
classifier), and, as a control, pretrained to finetuned and pretrained to masked. Figure 7 trains the three
middle control points of a Bézier curve φ(t) = Σ_{i=0..4} C(4,i) (1−t)^{4−i} t^i w_i between the same two
ends (Garipov et al., 2018) and evaluates it beside the line.

Weights are dictionaries over one network (the finetuned one), run with ``torch.func.functional_call``:
the network's own parameters are W0 and are never overwritten.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from maskbert.data import collate
from reproduction.analysis.models import (
    WithParameters,
    check_same_layout,
    effective_parameters,
    evaluate,
    load_pair,
    pretrained_model,
)

PATHS = ("finetuned→masked", "pretrained→finetuned", "pretrained→masked")


def evenly_spaced(points: int) -> list[float]:
    """`points` values from 0 to 1 inclusive (default 21: our choice, the paper does not give the number)."""
    if points < 2:
        raise ValueError(f"points={points}: expected at least 2 (both ends)")
    return [float(x) for x in np.linspace(0.0, 1.0, points)]


@torch.no_grad()
def interpolate(start: dict[str, torch.Tensor], end: dict[str, torch.Tensor], gamma: float) -> dict:
    """W(γ); torch.lerp returns `start` at γ = 0 and `end` at γ = 1 bit for bit."""
    return {name: torch.lerp(start[name], end[name], gamma) for name in start}


def line_scores(
    network: nn.Module,
    start: dict,
    end: dict,
    prepared,
    split: str,
    gammas: Iterable[float],
    batch_size: int,
    device: str,
) -> list[float]:
    """The task metric of W(γ) on a split, for each γ."""
    return [
        evaluate(
            WithParameters(network, interpolate(start, end, g)), prepared, split, batch_size, device
        ).score(prepared.task)
        for g in gammas
    ]


def mode_connectivity(
    finetuned_run: str | Path,
    masked_run: str | Path,
    prepared,
    split: str = "dev",
    points: int = 21,
    batch_size: int = 64,
    device: str = "cpu",
) -> list[dict]:
    """Figure 6's three lines for one (model, task, seed): rows {path, gamma, score, metric}."""
    network, masked = load_pair(finetuned_run, masked_run, device)
    finetuned = {name: p.detach() for name, p in network.named_parameters()}
    pretrained = effective_parameters(pretrained_model(finetuned_run, device))
    check_same_layout(finetuned, pretrained, f"{finetuned_run}: the pretrained model")
    gammas = evenly_spaced(points)
    rows = []
    for path, (start, end) in zip(
        PATHS, ((finetuned, masked), (pretrained, finetuned), (pretrained, masked))
    ):
        scores = line_scores(network, start, end, prepared, split, gammas, batch_size, device)
        rows += [
            {"path": path, "gamma": g, "score": s, "metric": prepared.task.metric}
            for g, s in zip(gammas, scores)
        ]
    return rows


# ------------------------------------------------------------------------------------------------------
# Bézier curve (App. B)
# ------------------------------------------------------------------------------------------------------
BENDS = 3  # the paper's 3-bend curve: 5 control points, the two ends fixed


@dataclass
class CurveTraining:
    """How the middle control points are trained (the paper gives no settings; see docs/WORKFLOW.md).

    Adam on E_{t~U(0,1)} L(φ(t)), one t per batch, over `epochs` passes of the train split in an order
    fixed by `seed`; the middle points start on the straight line, so the untrained curve is the line.
    """

    epochs: int = 3
    lr: float = 3e-5
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(
                f"curve training: epochs, batch_size and lr must be positive, got {asdict(self)}"
            )


def bernstein(t: float, degree: int = BENDS + 1) -> list[float]:
    return [math.comb(degree, i) * (1.0 - t) ** (degree - i) * t**i for i in range(degree + 1)]


def curve_point(controls: list[dict[str, torch.Tensor]], t: float) -> dict[str, torch.Tensor]:
    """φ(t). Terms with a zero coefficient are skipped, so φ(0) is w0 and φ(1) is the last point exactly."""
    terms = [(c, w) for c, w in zip(bernstein(t, len(controls) - 1), controls) if c != 0.0]
    return {name: sum(c * w[name] for c, w in terms) for name in controls[0]}


def train_curve(
    network: nn.Module, start: dict, end: dict, prepared, training: CurveTraining, device: str = "cpu"
) -> tuple[list[dict], list[float]]:
    """The trained middle points w1..w3 and the mean training loss of each epoch.

    Held beyond the network and the two ends: three weight copies, their gradients and Adam's two moments.
    """
    middles = [
        {
            name: torch.lerp(start[name], end[name], i / (BENDS + 1)).clone().requires_grad_(True)
            for name in start
        }
        for i in range(1, BENDS + 1)
    ]
    # one parameter at a time (foreach=False): the multi-tensor path would add temporaries as large as all
    # three middle points together
    optimizer = torch.optim.Adam(
        [w for point in middles for w in point.values()], lr=training.lr, foreach=False
    )
    generator = torch.Generator().manual_seed(training.seed)
    torch.manual_seed(training.seed)  # dropout
    rows = list(prepared.splits["train"])
    model = WithParameters(network, {})
    model.train()
    losses = []
    for _ in range(training.epochs):
        order = torch.randperm(len(rows), generator=generator).tolist()
        total, steps = 0.0, 0
        for begin in range(0, len(rows), training.batch_size):
            batch = collate(
                [rows[i] for i in order[begin : begin + training.batch_size]], prepared.pad_token_id
            )
            t = float(torch.rand((), generator=generator))
            model.values = curve_point([start, *middles, end], t)
            loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"Bézier curve: loss became {loss.item()} at t={t:.3f}; "
                    f"try a smaller learning rate than {training.lr}"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, steps = total + loss.item(), steps + 1
        losses.append(total / max(steps, 1))
    model.values = {}
    return [{name: w.detach() for name, w in point.items()} for point in middles], losses


def bezier_connectivity(
    finetuned_run: str | Path,
    masked_run: str | Path,
    prepared,
    training: CurveTraining,
    split: str = "dev",
    points: int = 21,
    batch_size: int = 64,
    device: str = "cpu",
) -> dict:
    """Figure 7 for one (model, task, seed): the trained curve's and the line's scores at `points` t."""
    network, masked = load_pair(finetuned_run, masked_run, device)
    network.requires_grad_(False)
    finetuned = {name: p.detach() for name, p in network.named_parameters()}
    ts = evenly_spaced(points)
    line = line_scores(network, finetuned, masked, prepared, split, ts, batch_size, device)
    middles, losses = train_curve(network, finetuned, masked, prepared, training, device)
    controls = [finetuned, *middles, masked]
    curve = [
        evaluate(
            WithParameters(network, curve_point(controls, t)), prepared, split, batch_size, device
        ).score(prepared.task)
        for t in ts
    ]
    return {
        "t": ts,
        "curve": curve,
        "line": line,
        "train_loss": losses,
        "training": asdict(training),
        "metric": prepared.task.metric,
    }
