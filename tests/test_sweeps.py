"""The §5.1/§5.2 sweeps' vocabulary (reproduction.sweeps): block sets spelt one way, their direction, and
Table 7's transcription in resources/paper_results.csv. Their points: tests/test_grid.py; their config
checks: tests/test_workflow_checks.py; their tables and figures: tests/test_sweep_tables.py; the GPU-hour
estimate: tests/test_cost.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from maskbert.pretrained import num_blocks_of
from reproduction import report, sweeps

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
PAPER = report.load_paper(ROOT / "resources/paper_results.csv")
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


# ------------------------------------------------------------------------------------------------------
# Block sets and config checks
# ------------------------------------------------------------------------------------------------------
def test_block_sets_spelling_and_direction():
    assert num_blocks_of("bert-base-uncased") == 12
    assert num_blocks_of(MINILM) == 6
    assert num_blocks_of("distilbert-base-uncased") == 6
    assert sweeps.canonical_blocks("02-11", 12) == "2-11" == sweeps.canonical_blocks("2-5,6-11", 12)
    assert sweeps.all_blocks(12) == "0-11"
    assert [sweeps.block_direction(b, 12) for b in ("0-11", "0-3", "8-11", "3-8", "0,2")] == [
        "all",
        "bottom-up",
        "top-down",
        None,
        None,
    ]
    with pytest.raises(ValueError, match="do not exist"):
        sweeps.canonical_blocks("0-11", 6)
    assert sweeps.layerwise_item("0-11", 0.05) == "blocks0-11_sparsity0.05"


def test_table7_transcription():
    """resources/paper_results.csv holds the paper's Table 7 in percent: 19 settings x 3 tasks x mean/std."""
    t7 = PAPER[PAPER["table"] == "7"]
    assert len(t7) == 19 * 3 * 2 and set(t7["task"]) == {"mrpc", "rte", "cola"}
    value = report.paper_value
    assert (
        value(
            PAPER,
            "dev_mean",
            table="7",
            model="bert-base-uncased",
            method="masking",
            task="rte",
            item="blocks4-11_sparsity0.05",
        )
        == 70.5
    )
    assert (
        value(
            PAPER,
            "dev_std",
            table="7",
            model="bert-base-uncased",
            method="masking",
            task="mrpc",
            item="blocks0-9_sparsity0.15",
        )
        == 5.2
    )
    assert (
        value(
            PAPER, "dev_mean", table="7", model="bert-base-uncased", method="finetuning", task="cola", item=""
        )
        == 59.6
    )
    items = {
        sweeps.layerwise_item(sweeps.canonical_blocks(b, 12), s)
        for b in CONFIG["sweeps"]["layerwise"]["block_sets"]
        for s in CONFIG["sweeps"]["layerwise"]["sparsities"]
    }
    assert items == set(t7.loc[t7["method"] == "masking", "item"])
