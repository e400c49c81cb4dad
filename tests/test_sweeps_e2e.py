"""The sweeps end to end (slow): real training runs through `snakemake figure1 figure2`, and Figure 1's and
Table 7's numbers checked against the runs' own summaries.

`check_sweep_outputs` is the check; the test runs it on the demo's sweeps with a tiny BERT (random weights,
MiniLM's vocabulary; tests/conftest.py) standing in for MiniLM and one epoch: 16 small runs, 2.5 minutes
on the 2-core machine while others loaded it. The demo pipeline's own test can call it on `make demo`'s results.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_runs import ROOT, snakemake

from reproduction.sweeps import all_blocks

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def dev_scores(run_group: Path, lr: float, seeds) -> list[float]:
    """best_dev_score of every seed's run at `lr` under runs/<model>/<task>/<method>/<setting>/."""
    return [
        json.loads((run_group / f"lr{float(lr)!r}" / f"seed{s}" / "summary.json").read_text())[
            "best_dev_score"
        ]
        for s in seeds
    ]


def check_sweep_outputs(res: Path, config: dict, num_blocks: dict[str, int]) -> None:
    """Figure 1's numbers are the mean/std of its runs' dev scores; each Table 7 row is the best mean over its
    setting's learning rates, and at the rate it reports; both figures exist."""
    seeds = config["seeds"]
    fig1 = config["sweeps"]["initial_sparsity"]
    table = pd.read_csv(res / "tables/figure1_initial_sparsity.csv")
    assert len(table) == len(fig1["models"]) * len(fig1["tasks"]) * len(fig1["sparsities"])
    for row in table.itertuples():
        model = row.model.split("/")[-1]
        setting = f"blocks{all_blocks(num_blocks[row.model])}_sparsity{row.initial_sparsity!r}"
        scores = dev_scores(
            res / "runs" / model / row.task / "masking" / setting,
            fig1["learning_rate"],
            fig1.get("seeds") or seeds,
        )
        assert row.ours_mean == pytest.approx(np.mean(scores), abs=1e-6)
        assert row.ours_std == pytest.approx(np.std(scores), abs=1e-6)
        assert row.n_seeds == len(scores) and row.lr == fig1["learning_rate"]

    layer = config["sweeps"]["layerwise"]
    table = pd.read_csv(res / "tables/table7_layerwise.csv")
    n_masking = (
        len(layer["models"]) * len(layer["block_sets"]) * len(layer["sparsities"]) * len(layer["tasks"])
    )
    assert len(table) == n_masking + len(layer["models"]) * len(layer["tasks"])
    for row in table.itertuples():
        setting = (
            "full"
            if row.method == "finetuning"
            else f"blocks{row.masked_blocks}_sparsity{row.initial_sparsity!r}"
        )
        group = res / "runs" / row.model.split("/")[-1] / row.task / row.method / setting
        means = {
            float(d.name.removeprefix("lr")): np.mean(
                dev_scores(group, float(d.name.removeprefix("lr")), seeds)
            )
            for d in group.iterdir()
        }
        assert row.ours_mean == pytest.approx(means[row.lr], abs=1e-6)
        assert row.ours_mean == pytest.approx(max(means.values()), abs=1e-6)
        assert row.ours_std == pytest.approx(np.std(dev_scores(group, row.lr, seeds)), abs=1e-6)
    for stem in ("figure1_initial_sparsity", "figure2_layerwise"):
        assert (res / f"figures/{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert (res / f"figures/{stem}.pdf").read_bytes()[:4] == b"%PDF"
    for stem in ("figure1_initial_sparsity", "table7_layerwise"):
        assert (res / f"tables/{stem}.md").stat().st_size > 0 and (
            res / f"tables/{stem}.tex"
        ).stat().st_size > 0


@pytest.mark.slow
def test_demo_sweeps_end_to_end(tmp_path, tiny_bert_with_tokenizer):
    config = yaml.safe_load((ROOT / "config/demo.yaml").read_text())
    config["results"] = "res"
    # The tiny stand-in has 4 blocks: the demo's sets 0-5 / 2-5 / 0-3 become 0-3 / 2-3 / 0-1.
    config["model_paths"] = {MINILM: tiny_bert_with_tokenizer}
    config["method_options_by_model"] = {MINILM: {"masking": {"masked_blocks": "2-3"}}}
    config["training"]["epochs"] = 1
    config["learning_rates"] = {
        "masking": [1.0e-2, 3.0e-2],
        "finetuning": [1.0e-3],
        "overrides": [],
        "max_extensions": 0,
    }
    config["sweeps"]["initial_sparsity"]["learning_rate"] = 1.0e-2
    config["sweeps"]["layerwise"]["block_sets"] = ["0-3", "2-3", "0-1"]
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(config))
    snakemake(
        "figure1",
        "figure2",
        "--cores",
        "2",
        "--configfile",
        str(ROOT / "config.yaml"),
        str(tmp_path / "demo.yaml"),
        "--directory",
        str(tmp_path),
        cwd=tmp_path,
    )
    check_sweep_outputs(tmp_path / "res", config, {MINILM: 4})
    # Table 7 names each set's direction against the 4 blocks
    table = pd.read_csv(tmp_path / "res/tables/table7_layerwise.csv")
    assert dict(zip(table["masked_blocks"].dropna(), table["direction"].dropna())) == {
        "0-3": "all",
        "2-3": "top-down",
        "0-1": "bottom-up",
    }
