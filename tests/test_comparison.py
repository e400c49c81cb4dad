"""The methods comparison: numbers from the selections and run summaries, the Pareto front, the figure."""

import math

import pandas as pd
import pytest

from reproduction.comparison import CODED, average_over_tasks, methods_comparison, methods_comparison_figure


def group(method, task, dev_scores, bytes_per_run, params, tests=(), coded=None, lr=1e-3):
    seeds = [str(i + 1) for i in range(len(dev_scores))]
    summaries = [{"trainable_parameters": params, "artifact_bytes": b} for b in bytes_per_run]
    if coded is not None:
        for summary, b in zip(summaries, coded):
            summary["artifact_bytes_coded"] = b
    return {
        "selection": {
            "model": "m",
            "task": task,
            "method": method,
            "metric": "accuracy",
            "best_lr": lr,
            "seeds": [int(s) for s in seeds],
            "dev_scores": dict(zip(seeds, dev_scores)),
        },
        "summaries": summaries,
        "tests": [{"score": s} for s in tests],
    }


GROUPS = [
    group("masking", "a", [80.0, 82.0], [1000, 1000], 5000, tests=[70.0, 74.0], coded=[200, 220]),
    group("finetuning", "a", [85.0, 85.0], [90_000, 90_000], 90_000, tests=[75.0, 75.0], lr=5e-5),
    group("lora", "a", [81.0, 83.0], [3000, 3000], 700),
    group("bitfit", "a", [70.0, 72.0], [1500, 1500], 300),
    group("masking", "b", [60.0, 64.0], [1000, 1000], 5000, coded=[150, 150]),
    group("finetuning", "b", [66.0, 66.0], [90_000, 90_000], 90_000),
    group("lora", "b", [50.0, 50.0], [3000, 3000], 700),
    group("bitfit", "b", [62.0, 60.0], [1500, 1500], 300),
]


def test_rows_hold_the_selections_and_summaries_numbers():
    data = methods_comparison(GROUPS).data.set_index(["task", "storage"])
    masking = data.loc[("a", "masking")]
    assert masking["dev_mean"] == 81.0 and masking["dev_std"] == 1.0  # population std, as every table here
    assert masking["test_mean"] == 72.0 and masking["test_std"] == 2.0
    assert masking["bytes_per_task"] == 1000 and masking["trainable_params"] == 5000
    assert (
        data.loc[("a", CODED), "bytes_per_task"] == 210
    )  # the coded artifact's measured bytes, mean over seeds
    assert data.loc[("a", CODED), "dev_mean"] == 81.0  # the same masks: the same scores
    assert math.isnan(data.loc[("a", "lora"), "test_mean"])  # no test split given
    assert data.loc[("a", "finetuning"), "lr"] == 5e-5 and data.loc[("a", "finetuning"), "dev_std"] == 0


def test_pareto_front_by_task():
    data = methods_comparison(GROUPS).data.set_index(["task", "storage"])["pareto"]
    # task a: coded masking (210 B, 81) dominates bitfit (1500, 71) and masking (1000, 81); lora (3000, 82)
    # and finetuning (90 kB, 85) each buy a better score with more bytes
    assert {s for (t, s), on in data.items() if t == "a" and on} == {CODED, "lora", "finetuning"}
    # task b: lora is dominated; bitfit (61) is dominated by coded masking (150 B, 62)
    assert {s for (t, s), on in data.items() if t == "b" and on} == {CODED, "finetuning"}


def test_average_over_tasks_uses_the_tasks_every_storage_has():
    data = methods_comparison(GROUPS).data
    average = average_over_tasks(data).set_index("storage")
    assert average.loc["masking", "dev_mean"] == pytest.approx((81 + 62) / 2)
    assert average.loc[CODED, "bytes_per_task"] == pytest.approx((210 + 150) / 2)
    partial = average_over_tasks(data[~((data["task"] == "b") & (data["storage"] == "lora"))])
    assert "lora" not in set(partial["storage"])


def test_a_summary_missing_for_a_seed_is_refused():
    bad = group("lora", "a", [81.0, 83.0], [3000], 700)
    with pytest.raises(ValueError, match="m a lora: 1 run summaries for 2 seeds"):
        methods_comparison([bad])


def test_figure_and_table_files(tmp_path):
    from reproduction.report import write_table

    table = methods_comparison(GROUPS)
    written = write_table(table, [tmp_path / "c.csv", tmp_path / "c.md", tmp_path / "c.tex"])
    back = pd.read_csv(written[0])
    assert len(back) == 10 and back["pareto"].sum() == 5
    markdown = [line for line in written[1].read_text().splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown]
    header, rows = cells[0], [dict(zip(cells[0], row)) for row in cells[2:]]
    assert header[:3] == ["Model", "Task", "Method"] and len(rows) == 10
    shown = {(row["Task"], row["Method"]): row for row in rows}
    assert shown["a", "masking"]["Dev"] == "81.0 ± 1.0" and shown["a", "masking"]["Test"] == "72.0 ± 2.0"
    assert shown["a", CODED]["KB per task"] == "0.2" and shown["a", CODED]["Pareto"] == "*"
    assert shown["b", "lora"]["Trainable params"] == "700" and shown["b", "lora"]["Pareto"] == ""
    png, pdf = methods_comparison_figure(table, [tmp_path / "c.png", tmp_path / "c.pdf"])
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
