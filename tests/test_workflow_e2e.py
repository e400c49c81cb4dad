"""The demo pipeline end to end (slow): data -> train -> select -> test -> ensemble -> tables, figure, report.

By default this runs config/demo.yaml as `make demo` does (bundled MiniLM, 26 runs, the sweeps and the
analyses, about seven minutes on 2 CPU cores), so CI checks the README's first command. Set MASKBERT_E2E_TINY=1 for a quicker check where a
tiny BERT built from a config (random weights, MiniLM's vocabulary; tests/conftest.py) stands in for MiniLM
through `model_paths` and finetuning tries one learning rate (12 runs, under two minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def run(args, cwd):
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


@pytest.mark.slow
def test_demo_pipeline_end_to_end(tmp_path, tiny_bert_with_tokenizer):
    config = yaml.safe_load((ROOT / "config/demo.yaml").read_text())
    config["results"] = "res"
    if os.environ.get("MASKBERT_E2E_TINY") == "1":
        config["model_paths"] = {MINILM: tiny_bert_with_tokenizer}
        config["method_options_by_model"] = {MINILM: {"masking": {"masked_blocks": "2-3"}}}  # 4 blocks
        config["training"]["epochs"] = 2
        config["learning_rates"] = {"masking": [1.0e-2, 3.0e-2], "finetuning": [1.0e-3], "overrides": []}
        config["memory"] = {"models": [MINILM, "bert-base-uncased"], "tasks": ["mrpc", "sst2", "cola"]}
        config["sweeps"]["initial_sparsity"]["learning_rate"] = 1.0e-2
        config["sweeps"]["layerwise"]["block_sets"] = ["0-3", "2-3", "0-1"]
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(config))
    common = ["--configfile", str(tmp_path / "demo.yaml"), "--directory", str(tmp_path)]
    run(["tables", "--cores", "2", *common], tmp_path)
    run(["tables", "--cores", "1", "--report", str(tmp_path / "report.html"), *common], tmp_path)

    res = tmp_path / "res"
    stems = [
        "table1_dev",
        "table2_table6_test_error",
        "table2_memory",
        "table4_best_lr",
        "table5_split_sizes",
        "table8_memory",
    ]
    for stem in stems:
        for ext in ("csv", "md", "tex"):
            assert (res / "tables" / f"{stem}.{ext}").stat().st_size > 0, (stem, ext)
    assert (res / "figures/figure3_memory.png").read_bytes()[:4] == b"\x89PNG"
    assert (res / "figures/figure3_memory.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "report.html").stat().st_size > 10_000
    # The sweeps and the analyses: every table and figure of the paper's §5 and §6.
    for stem in (
        "figure1_initial_sparsity",
        "table7_layerwise",
        "table3_generalization",
        "figure4_probe",
        "figure5_mask_dissimilarity",
        "figure6_mode_connectivity",
        "figure7_bezier",
    ):
        for ext in ("csv", "md", "tex"):
            assert (res / "tables" / f"{stem}.{ext}").stat().st_size > 0, (stem, ext)
    for stem in (
        "figure1_initial_sparsity",
        "figure2_layerwise",
        "figure4_tsne",
        "figure5_mask_dissimilarity",
        "figure6_mode_connectivity",
        "figure7_bezier",
    ):
        assert (res / "figures" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG", stem
    # Figure 1's numbers are the runs' own dev scores (every block masked, at the sweep's learning rate).
    sweep = config["sweeps"]["initial_sparsity"]
    every_block = "0-3" if os.environ.get("MASKBERT_E2E_TINY") == "1" else "0-5"
    for row in pd.read_csv(res / "tables/figure1_initial_sparsity.csv").itertuples():
        runs = (
            res
            / "runs/all-MiniLM-L6-v2"
            / row.task
            / "masking"
            / f"blocks{every_block}_sparsity{row.initial_sparsity!r}"
        )
        scores = [
            json.loads((runs / f"lr{float(sweep['learning_rate'])!r}/seed{s}/summary.json").read_text())[
                "best_dev_score"
            ]
            for s in sweep["seeds"]
        ]
        assert row.ours_mean == pytest.approx(np.mean(scores), abs=1e-4)

    # Figures 1 and 2, Table 7 (the sweeps): their numbers are the runs' own dev scores.
    from test_sweeps_e2e import check_sweep_outputs

    tiny = os.environ.get("MASKBERT_E2E_TINY") == "1"
    check_sweep_outputs(res, config, {MINILM: 4 if tiny else 6})

    # Table 1 holds the runs' own dev scores: mean over seeds at the selected learning rate.
    table1 = pd.read_csv(res / "tables/table1_dev.csv")
    assert len(table1) == 2 * 2  # tasks x methods
    for row in table1.itertuples():
        assert 0 <= row.ours_mean <= 100 and row.n_seeds == 2
        grid = config["learning_rates"][row.method]
        assert any(np.isclose(row.lr, lr) for lr in grid)
        # the main grid's setting (the sweeps add others)
        setting = (
            res
            / "runs/all-MiniLM-L6-v2"
            / row.task
            / row.method
            / (
                "full"
                if row.method == "finetuning"
                else f"blocks{config['training']['masked_blocks'][MINILM]}_sparsity0.05"
            )
        )
        lr_dir = next(p for p in setting.iterdir() if np.isclose(float(p.name.removeprefix("lr")), row.lr))
        scores = [
            json.loads((lr_dir / f"seed{s}/summary.json").read_text())["best_dev_score"] for s in (1, 2)
        ]
        assert row.ours_mean == pytest.approx(np.mean(scores), abs=1e-4)
        # ... and the best mean dev score over the grid
        means = [
            np.mean([json.loads((d / f"seed{s}/summary.json").read_text())["best_dev_score"] for s in (1, 2)])
            for d in lr_dir.parent.iterdir()
        ]
        assert row.ours_mean == pytest.approx(max(means), abs=1e-4)

    errors = pd.read_csv(res / "tables/table2_table6_test_error.csv")
    assert len(errors) == 2 * 2 * 2  # tasks x methods x (single, ensemble)
    assert errors["ours_error"].between(0, 100).all() and errors["memory_mb"].gt(0).all()
    ens = errors[errors["kind"] == "ensemble"]
    assert set(ens["ensemble_method"]) <= {"majority", "logits", "probabilities"}
    single = errors[errors["kind"] == "single"]
    for row in single.itertuples():
        (setting,) = (res / "test" / "all-MiniLM-L6-v2" / row.task / row.method).iterdir()
        scores = [
            json.loads((setting / f"seed{s}" / "test_metrics.json").read_text())["score"] for s in (1, 2)
        ]
        assert row.ours_error == pytest.approx(100 - np.mean(scores), abs=1e-4)

    sizes = pd.read_csv(res / "tables/table5_split_sizes.csv").set_index("task")
    assert (
        sizes.loc["synth-sentiment", "dev_ours"] == 200 and sizes.loc["synth-sentiment", "test_ours"] == 200
    )
    assert sizes.loc["synth-ner", "unit"] == "words"

    # Table 8 / Figure 3: every configured memory model over the memory tasks, as the library counts it.
    from maskbert.data import get_task
    from maskbert.memory import accumulated_memory
    from reproduction.grid import configured_options

    memory = pd.read_csv(res / "tables/table8_memory.csv")
    labels = {t: get_task(t).head_outputs for t in config["memory"]["tasks"]}
    assert list(memory["model"].unique()) == config["memory"]["models"]
    for model in config["memory"]["models"]:
        source = (config.get("model_paths") or {}).get(model, model)
        want = accumulated_memory(
            source,
            labels,
            {"masking": configured_options(config, model, "masking")},
            task_kinds={t: get_task(t).kind for t in config["memory"]["tasks"]},
        )
        got = memory[memory["model"] == model].reset_index(drop=True)
        assert list(got["task"]) == list(want["task"]) == config["memory"]["tasks"]
        for column in ("finetuning_params", "masking_params"):
            assert got[column].astype(int).tolist() == want[column].astype(int).tolist(), (model, column)
        for column in ("finetuning_mb", "masking_mb"):
            np.testing.assert_allclose(
                got[column], want[column], rtol=0, atol=1e-6, err_msg=f"{model} {column}"
            )
    lrs = pd.read_csv(res / "tables/table4_best_lr.csv")
    assert len(lrs) == 4 and lrs["ours_lr"].gt(0).all()

    # Table 3: a model on its own task's dev set scores what its runs scored there (Table 1), minus the majority.
    table3 = pd.read_csv(res / "tables/table3_generalization.csv")
    own = table3[(table3["train_task"] == table3["eval_task"]) & (table3["split"] == "dev")]
    assert len(own) == 2
    for row in own.itertuples():
        dev = table1[(table1["task"] == row.train_task) & (table1["method"] == row.method)][
            "ours_mean"
        ].item()
        assert row.ours + row.majority == pytest.approx(dev, abs=1e-4)

    # Nothing left to do: a second run is a no-op.
    proc = run(["tables", "--cores", "1", "--dry-run", *common], tmp_path)
    assert "Nothing to be done" in proc.stdout + proc.stderr
