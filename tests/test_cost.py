"""The GPU-hour estimate (reproduction.cost): steps and dev passes per run, only new points counted."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from reproduction.cost import StepTime, gpu_hours, run_gpu_seconds
from reproduction.grid import Grid, new_points

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())


def test_run_gpu_seconds_counts_steps_and_dev_passes():
    step = StepTime(0.064, 32, 128, "made up")
    # 100 train examples at batch 32: 4 steps/epoch; 60 dev examples at a third of 0.002 s each; 2 epochs.
    assert run_gpu_seconds(100, 60, 32, 2, step) == pytest.approx(2 * (4 * 0.064 + 60 * 0.002 / 3))
    # batch 64: 2 steps, each twice as long
    assert run_gpu_seconds(100, 0, 64, 1, step) == pytest.approx(2 * 0.128)


def test_gpu_hours_per_experiment_counts_only_new_jobs():
    points = Grid(CONFIG).points()
    sizes = {"mrpc": (3668, 408), "rte": (2490, 277), "cola": (8551, 1043), "sst2": (67349, 872)}
    steps = {"bert-base-uncased": {32: StepTime(0.06, 32, 128, "made up")}}
    only_sweeps = {k: v for k, v in points.items() if k != "main"}
    cost = gpu_hours(only_sweeps, sizes, lambda task: 32, 10, steps).set_index("experiment")
    added = new_points(only_sweeps)
    assert cost.loc["layerwise", "new_jobs"] == len(added["layerwise"])
    assert cost.loc["layerwise", "points"] == len(set(only_sweeps["layerwise"]))
    expected = (
        4 * 10 * (math.ceil(67349 / 32) * 0.06 + 872 * 0.06 / 32 / 3) / 3600
    )  # one SST-2 point, 4 seeds
    per_sparsity = cost.loc["initial_sparsity", "gpu_hours"] / 21
    assert expected < per_sparsity < 2 * expected
    # the main grid first: its points are not counted again, and it has models and tasks without a step/size
    with_main = gpu_hours(points, sizes, lambda task: 32, 10, steps).set_index("experiment")
    assert math.isnan(with_main.loc["main", "gpu_hours"])
    assert with_main.loc["layerwise", "new_jobs"] == len(new_points(points)["layerwise"]) == 2244
    assert with_main.loc["layerwise", "gpu_hours"] < cost.loc["layerwise", "gpu_hours"]
