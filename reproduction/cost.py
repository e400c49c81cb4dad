"""What the experiments cost on a GPU: an upper bound of GPU-hours per experiment, from a measured step time
and the datasets' sizes, counting only the training points an earlier experiment has not (the grid's
:func:`reproduction.grid.new_points`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from reproduction.grid import Point, new_points


@dataclass(frozen=True)
class StepTime:
    """Seconds of one training step (forward, backward, optimizer) at ``batch_size`` and ``length``."""

    seconds: float
    batch_size: int
    length: int
    source: str


# Measured on an NVIDIA H100 80GB (fp32, torch 2.11, random-initialised BERT-base built from the shipped
# config, sequence length 128, median of 30 steps after 5 warm-up) with bench/step_cost.py's `measure`;
# masking all blocks 0-11 (Figure 1's setting; 2-11 took 0.053 s, finetuning 0.061 s). Recorded in
# bench/results/step_cost_bert_h100.md.
BERT_H100_MASKING = {
    32: StepTime(0.0605, 32, 128, "H100, BERT-base masking 0-11, batch 32, length 128"),
    128: StepTime(0.1969, 128, 128, "H100, BERT-base masking 0-11, batch 128, length 128"),
}
# Dev evaluation: a forward pass costs about a third of a training step per example.
EVAL_COST = 1 / 3


def run_gpu_seconds(train_size: int, dev_size: int, batch_size: int, epochs: int, step: StepTime) -> float:
    """Upper bound of one run: every epoch (no early stop), every batch padded to ``step.length``.

    Steps per epoch = ceil(train / batch); a step at another batch size costs ``step.seconds`` scaled
    by batch / step.batch_size; dev is evaluated after each epoch at :data:`EVAL_COST` of the training cost
    per example.
    """
    per_example = step.seconds / step.batch_size
    per_step = per_example * batch_size
    return epochs * (math.ceil(train_size / batch_size) * per_step + dev_size * per_example * EVAL_COST)


def gpu_hours(
    points: Mapping[str, Sequence[Point]],
    sizes: Mapping[str, tuple[int, int]],
    batch_size: Callable[[str], int],
    epochs: int,
    steps: Mapping[str, Mapping[int, StepTime]],
) -> pd.DataFrame:
    """Per experiment: its training points, the ones no earlier experiment has (new jobs) and their GPU-hours.

    ``sizes``: {task: (train examples, dev examples)}; ``steps``: {model: {batch size: measured step}}
    (the nearest measured batch is scaled to the run's); an experiment with a model that has no measured
    step or a task of unknown size gets NaN hours rather than a guess.
    """
    rows = []
    for (experiment, its_points), new in zip(points.items(), new_points(points).values()):
        seconds = 0.0
        for p in new:
            if p.model not in steps or p.task not in sizes:
                seconds = float("nan")
                break
            b = batch_size(p.task)
            step = steps[p.model][min(steps[p.model], key=lambda measured: abs(measured - b))]
            seconds += run_gpu_seconds(*sizes[p.task], b, epochs, step)
        rows.append(
            {
                "experiment": experiment,
                "points": len(set(its_points)),
                "new_jobs": len(new),
                "gpu_hours": seconds / 3600,
            }
        )
    return pd.DataFrame(rows)
