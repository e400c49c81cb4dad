"""Learning-rate selection as a unit: mean over seeds, ties to the smaller rate, the grid-border rule."""

from __future__ import annotations

import pytest

from reproduction.selection import next_lr_beyond, select_round


def records(scores: dict[float, list[float]]) -> list[dict]:
    return [
        {"lr": lr, "seed": seed, "run": f"runs/lr{lr}/seed{seed}", "score": score, "metric": "accuracy"}
        for lr, by_seed in scores.items()
        for seed, score in enumerate(by_seed, start=1)
    ]


def test_best_mean_over_seeds_not_best_single_run():
    # 3e-5 has the best single run (95) but 5e-5 the best mean (85 vs 80).
    decision = select_round(records({1e-5: [70, 72], 3e-5: [95, 65], 5e-5: [84, 86], 7e-5: [60, 62]}), 0, 2)
    assert decision["best_lr"] == 5e-5 and decision["dev_mean"] == 85.0 and decision["dev_std"] == 1.0
    assert decision["dev_scores"] == {"1": 84.0, "2": 86.0}
    assert decision["runs"] == {"1": "runs/lr5e-05/seed1", "2": "runs/lr5e-05/seed2"}
    assert decision["border"] == [] and decision["next_lrs"] == []


def test_ties_go_to_the_smaller_rate():
    decision = select_round(records({1e-5: [50, 50], 3e-5: [80, 80], 5e-5: [80, 80], 7e-5: [10, 10]}), 0, 2)
    assert decision["best_lr"] == 3e-5


@pytest.mark.parametrize(
    ("scores", "border", "next_lrs"),
    [
        ({1e-5: [90], 3e-5: [80]}, ["lower"], [9e-6]),
        ({1e-5: [70], 3e-5: [80]}, ["upper"], [5e-5]),
        ({9e-4: [70], 1e-3: [80]}, ["upper"], [3e-3]),
        ({5e-5: [80]}, ["lower", "upper"], [3e-5, 7e-5]),
    ],
)
def test_border_asks_for_the_next_sequence_value(scores, border, next_lrs):
    decision = select_round(records(scores), 0, 1)
    assert decision["border"] == border and decision["next_lrs"] == pytest.approx(next_lrs)
    assert select_round(records(scores), 1, 1)["next_lrs"] == []  # max_extensions reached


def test_next_lr_beyond_follows_1_3_5_7_9():
    assert next_lr_beyond(9e-5, +1) == 1e-4 and next_lr_beyond(1e-5, -1) == 9e-6
    assert next_lr_beyond(7e-6, -1) == 5e-6 and next_lr_beyond(1e-3, +1) == 3e-3
    assert next_lr_beyond(2.5e-5, +1) == 3e-5 and next_lr_beyond(2.5e-5, -1) == 1e-5


def test_missing_seed_is_an_error():
    rows = records({1e-5: [70, 72], 3e-5: [80]})
    with pytest.raises(ValueError, match="lr 3e-05: runs for seeds"):
        select_round(rows, 0, 0)


def test_configured_grid_takes_the_last_matching_override():
    from reproduction.selection import configured_grid

    lrs = {
        "masking": [3e-5, 1e-5],
        "finetuning": [5e-5],
        "overrides": [
            {"method": "masking", "values": [7e-5]},
            {"model": "m", "task": "t", "values": [9e-5, 1e-4]},
            {"model": "other", "values": [1e-3]},
        ],
    }
    assert configured_grid(lrs, "m", "t", "masking") == [9e-5, 1e-4]
    assert configured_grid(lrs, "m", "u", "masking") == [7e-5]
    assert configured_grid(lrs, "m", "u", "finetuning") == [5e-5]
