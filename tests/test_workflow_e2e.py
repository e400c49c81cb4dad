"""The demo pipeline end to end (slow): data -> train -> select -> test -> ensemble -> tables, figure, report.

By default this runs config/demo.yaml as `make demo` does (bundled MiniLM, 29 runs, the sweeps, the
methods comparison and the analyses; 695 s on the project's 2-core AMD EPYC, quiet), so CI checks the
README's first command. Set MASKBERT_E2E_TINY=1 for a quicker check where a tiny BERT built from a config (random weights, MiniLM's vocabulary; tests/conftest.py) stands in for MiniLM
through `model_paths` and finetuning tries one learning rate (12 runs, under two minutes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_runs import ROOT, snakemake

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.slow
def test_demo_pipeline_end_to_end(tmp_path, tiny_bert_with_tokenizer):
    config = yaml.safe_load((ROOT / "config/demo.yaml").read_text())
    config["results"] = "res"
    if os.environ.get("MASKBERT_E2E_TINY") == "1":
        config["model_paths"] = {MINILM: tiny_bert_with_tokenizer}
        config["method_options_by_model"] = {MINILM: {"masking": {"masked_blocks": "2-3"}}}  # 4 blocks
        config["training"]["epochs"] = 2
        config["learning_rates"] = {
            **config["learning_rates"],
            "masking": [1.0e-2, 3.0e-2],
            "finetuning": [1.0e-3],
            "overrides": [],
        }
        config["memory"] = {"models": [MINILM, "bert-base-uncased"], "tasks": ["mrpc", "sst2", "cola"]}
        config["sweeps"]["initial_sparsity"]["learning_rate"] = 1.0e-2
        config["sweeps"]["layerwise"]["block_sets"] = ["0-3", "2-3", "0-1"]
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(config))
    common = ["--configfile", str(tmp_path / "demo.yaml"), "--directory", str(tmp_path)]
    snakemake("tables", "--cores", "2", *common, cwd=tmp_path)
    snakemake("tables", "--cores", "1", "--report", str(tmp_path / "report.html"), *common, cwd=tmp_path)

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
        setting = res / "runs/all-MiniLM-L6-v2" / row.task / row.method / _main_setting(config, row.method)
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

    # Table 4: the rate each selection chose (and Table 1 reports), with the grid it chose from.
    lrs = pd.read_csv(res / "tables/table4_best_lr.csv")
    assert len(lrs) == 4
    for row in lrs.itertuples():
        chosen = _selection(res, config, row.task, row.method)
        assert row.ours_lr == chosen["best_lr"] and row.n_grid == len(chosen["grid"])
        assert (
            row.ours_lr
            == table1[(table1["task"] == row.task) & (table1["method"] == row.method)]["lr"].item()
        )
    check_ensemble_rows(res, config, errors)
    check_split_sizes(res, config)
    check_memory_outputs(res, config, tmp_path)
    check_analysis_outputs(res, config, tmp_path)
    check_analysis_tables(res)
    check_comparison_outputs(res, config, tmp_path)

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
    proc = snakemake("tables", "--cores", "1", "--dry-run", *common, cwd=tmp_path)
    assert "Nothing to be done" in proc.stdout + proc.stderr


# ------------------------------------------------------------------------------------------------------
# Every table's numbers, checked against the runs, predictions, data and analysis results they come from
# ------------------------------------------------------------------------------------------------------
def _read(path: Path):
    return json.loads(Path(path).read_text())


def _accuracy_of_ensemble(prediction_files: list[Path], how: str) -> float:
    """Accuracy (%) of the seeds' test predictions combined by summed logits or summed probabilities."""
    from safetensors.numpy import load_file

    members = [load_file(str(path)) for path in prediction_files]
    logits = np.stack([m["logits"] for m in members]).astype(np.float64)
    if how == "probabilities":
        logits = np.exp(logits - logits.max(axis=-1, keepdims=True))
        logits /= logits.sum(axis=-1, keepdims=True)
    return float(100 * np.mean(logits.sum(axis=0).argmax(axis=-1) == members[0]["labels"]))


def check_ensemble_rows(res: Path, config: dict, errors: pd.DataFrame) -> None:
    """Tables 2/6's ensemble rows: the error of the ensemble method picked on dev, as the ensemble job
    recorded it, and for an accuracy task recomputed here from the seeds' test predictions."""
    from maskbert.data import get_task

    ensembles = errors[errors["kind"] == "ensemble"]
    assert len(ensembles) == len(errors) / 2
    for row in ensembles.itertuples():
        setting = _main_setting(config, row.method)
        recorded = _read(res / "ensemble/all-MiniLM-L6-v2" / row.task / row.method / f"{setting}.json")
        picked = max(recorded["methods"], key=lambda m: recorded["methods"][m]["dev"])
        assert recorded["methods"][picked]["dev"] == recorded["methods"][row.ensemble_method]["dev"]
        assert row.ours_error == pytest.approx(
            100 - recorded["methods"][row.ensemble_method]["test"], abs=1e-9
        )
        assert row.memory_mb == pytest.approx(recorded["memory_mb"]["ensemble"], abs=1e-9)
        if get_task(row.task).metric != "accuracy":
            continue
        tests = res / "test/all-MiniLM-L6-v2" / row.task / row.method / setting
        files = [tests / f"seed{s}/test_predictions.safetensors" for s in config["seeds"]]
        for how in ("logits", "probabilities"):
            assert recorded["methods"][how]["test"] == pytest.approx(
                _accuracy_of_ensemble(files, how), abs=1e-6
            )


def check_split_sizes(res: Path, config: dict) -> None:
    """Table 5: every (task) row's dev and test sizes are the prepared data's rows (examples) or its data
    stage's word counts (tagging), and its truncation counts the data stage's."""
    from maskbert.data import load_prepared

    table = pd.read_csv(res / "tables/table5_split_sizes.csv")
    assert sorted(table["task"]) == sorted(config["tasks"])
    for row in table.to_dict("records"):
        prepared = load_prepared(res / "data/all-MiniLM-L6-v2" / row["task"])
        for split in ("dev", "test"):
            if split not in prepared.splits:
                assert pd.isna(row[f"{split}_ours"]), (row["task"], split)
                continue
            if row["unit"] == "examples":
                assert row[f"{split}_ours"] == len(prepared.splits[split]), (row["task"], split)
            else:
                assert row[f"{split}_ours"] == prepared.stats["table5"][split], (row["task"], split)
            truncated = prepared.stats["splits"][split].get("truncation", {}).get("examples_truncated")
            assert (
                pd.isna(row[f"{split}_truncated"])
                if truncated is None
                else row[f"{split}_truncated"] == truncated
            ), (row["task"], split)


def check_analysis_tables(res: Path) -> None:
    """Table 3 and the tables of Figures 4, 6 and 7, every cell recomputed with pandas from the analysis
    jobs' own results (Table 3's majority baseline also from the evaluated split's labels)."""
    from maskbert.data import load_prepared

    records = pd.DataFrame(
        [r for path in sorted((res / "analyses/table3").rglob("*.json")) for r in _read(path)["records"]]
    )
    table3 = pd.read_csv(res / "tables/table3_generalization.csv")
    keys = ["model", "method", "train_task", "eval_task", "split"]
    assert len(table3) == len(records.groupby(keys))
    for row in table3.to_dict("records"):
        runs = records[(records[keys] == pd.Series({k: row[k] for k in keys})).all(axis=1)]
        values = runs["accuracy" if row["split"] != "dev" else "improvement"]
        assert row["ours"] == pytest.approx(values.mean(), abs=1e-9) and row["seeds"] == len(runs)
        assert row["ours_std"] == pytest.approx(values.std(ddof=0), abs=1e-9)
        labels = np.asarray(
            load_prepared(res / "data/all-MiniLM-L6-v2" / row["eval_task"]).splits[row["split"]]["labels"]
        )
        assert row["majority"] == pytest.approx(100 * np.bincount(labels).max() / len(labels), abs=1e-9)

    probes = pd.read_csv(res / "tables/figure4_probe.csv")
    results = [_read(path) for path in sorted((res / "analyses/figure4").rglob("*.json"))]
    expected = {
        (r["task"], r["seed"], kind): np.mean(panel["probe_folds"])
        for r in results
        for kind, panel in r["panels"].items()
    }
    assert len(probes) == len(expected)
    for row in probes.itertuples():
        assert row.probe_accuracy == pytest.approx(expected[row.task, row.seed, row.representation], abs=1e-9)

    for analysis, stem, position in (
        ("figure6", "figure6_mode_connectivity", "gamma"),
        ("figure7", "figure7_bezier", "t"),
    ):
        points = pd.DataFrame(
            [r for path in sorted((res / "analyses" / analysis).rglob("*.json")) for r in _read(path)["rows"]]
        )
        table = pd.read_csv(res / "tables" / f"{stem}.csv")
        assert len(table) == len(points.groupby(["task", "path"]))
        for row in table.to_dict("records"):
            path = points[(points["task"] == row["task"]) & (points["path"] == row["path"])]
            ends = path.sort_values(position).groupby("seed")["score"]
            assert row["start"] == pytest.approx(ends.first().mean(), abs=1e-9), (stem, row["path"])
            assert row["end"] == pytest.approx(ends.last().mean(), abs=1e-9), (stem, row["path"])
            assert row["min"] == pytest.approx(path.groupby("seed")["score"].min().mean(), abs=1e-9)


def _selection(res: Path, config: dict, task: str, method: str) -> dict:
    """The main grid's learning-rate selection of (the demo's model, task, method)."""
    return _read(res / "select/all-MiniLM-L6-v2" / task / method / f"{_main_setting(config, method)}.json")


def _main_setting(config: dict, method: str) -> str:
    """The demo model's main-grid setting of a method, as its run paths spell it."""
    from maskbert.methods import get_method
    from reproduction.grid import configured_options

    return get_method(method).setting_name(configured_options(config, MINILM, method))


def _block_of(name: str):
    """The transformer block of a masked BERT layer's name (None for W_P and W_T)."""
    parts = name.split(".")
    return int(parts[parts.index("layer") + 1]) if "layer" in parts else None


def _trained_and_initial_masks(artifact: Path) -> tuple[dict, dict]:
    """A run's trained masks (its artifact, loaded) and the masks it started from (the model rebuilt from the
    seed and masking config the artifact records), by layer name."""
    from maskbert.artifact import load_artifact
    from maskbert.data import get_task
    from maskbert.masking import MaskingConfig, binary_masks
    from maskbert.methods import build_model

    model, metadata = load_artifact(artifact)
    masking = MaskingConfig.from_dict(metadata["masking"])
    start = build_model(
        metadata["base_model"], get_task(metadata["task"]["name"]), "masking", masking.seed, masking
    )
    return binary_masks(model), binary_masks(start)


def check_analysis_outputs(res: Path, config: dict, workdir: Path) -> None:
    """Figures 4-7's tables against the runs they read: the path ends are the end models' own dev scores (the
    selection's per-seed scores); Figure 5's s recounted from the artifacts and the rebuilt initial masks;
    Figure 4's probe recomputed from the masked run."""
    analyses = config["analyses"]
    for name, stem, paths in (
        (
            "figure6",
            "figure6_mode_connectivity",
            ("finetuned→masked", "pretrained→finetuned", "pretrained→masked"),
        ),
        ("figure7", "figure7_bezier", ("bezier", "line")),
    ):
        section = analyses[name]
        table = pd.read_csv(res / "tables" / f"{stem}.csv")
        assert len(table) == len(section["tasks"]) * len(paths), stem
        for row in table.itertuples():
            seeds = [str(s) for s in section["seeds"]]
            finetuned = np.mean(
                [_selection(res, config, row.task, "finetuning")["dev_scores"][s] for s in seeds]
            )
            masked = np.mean([_selection(res, config, row.task, "masking")["dev_scores"][s] for s in seeds])
            start, end = {
                "finetuned→masked": (finetuned, masked),
                "pretrained→finetuned": (None, finetuned),
                "pretrained→masked": (None, masked),
                "bezier": (finetuned, masked),
                "line": (finetuned, masked),
            }[row.path]
            if start is not None:
                assert row.start == pytest.approx(start, abs=1e-4), (stem, row.path)
            assert row.end == pytest.approx(end, abs=1e-4), (stem, row.path)
            assert row.min <= min(row.start, row.end) and row.seeds == len(seeds)
        if name == "figure6":  # both lines from the pretrained model start at the same model
            starts = table[table["path"].str.startswith("pretrained")].groupby("task")["start"].nunique()
            assert (starts == 1).all()

    # Figure 5: s = |M1 xor M2| / (|M1 xor M1_init| + |M2 xor M2_init|) per block layer, mean per block.
    f5 = analyses["figure5"]
    masks = {}
    for task in f5["tasks"]:
        for seed in f5["seeds"]:
            run = Path(_selection(res, config, task, "masking")["runs"][str(seed)])  # relative to workdir
            masks[task, seed] = _trained_and_initial_masks(workdir / run / "artifact/mask.safetensors")
    expected: dict[tuple[str, int], list[float]] = {}
    keys = sorted(masks)
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            kind = "tasks" if first[1] == second[1] else "seeds" if first[0] == second[0] else None
            if kind is None:
                continue
            (m1, i1), (m2, i2) = masks[first], masks[second]
            for name in m1:
                if name in m2 and _block_of(name) is not None:
                    changed = int((m1[name] ^ i1[name]).sum() + (m2[name] ^ i2[name]).sum())
                    s = int((m1[name] ^ m2[name]).sum()) / changed
                    expected.setdefault((kind, _block_of(name)), []).append(s)
    table = pd.read_csv(res / "tables/figure5_mask_dissimilarity.csv")
    assert sorted(table["block"]) == sorted({block for _, block in expected})
    for row in table.itertuples():
        assert row.s_tasks == pytest.approx(np.mean(expected["tasks", row.block]), abs=1e-9), row.block
        assert row.s_seeds == pytest.approx(np.mean(expected["seeds", row.block]), abs=1e-9), row.block
        assert 0 < row.s_tasks <= 1

    # Figure 4: the masked model's probe accuracy, recomputed from its run on the task's dev set.
    from maskbert.data import load_prepared
    from maskbert.methods import load_run_model
    from reproduction.analysis.representations import cls_vectors, probe_accuracy, split_labels

    defaults = yaml.safe_load((ROOT / "config.yaml").read_text())["analyses"]
    f4 = {**defaults["figure4"], **analyses["figure4"]}  # as --configfile merges the demo's over config.yaml
    table = pd.read_csv(res / "tables/figure4_probe.csv")
    assert sorted(table["representation"]) == sorted(["pretrained", "finetuned", "masked"] * len(f4["seeds"]))
    prepared = load_prepared(res / "data/all-MiniLM-L6-v2" / f4["task"])
    for seed in f4["seeds"]:
        run = workdir / _selection(res, config, f4["task"], "masking")["runs"][str(seed)]
        vectors = cls_vectors(
            load_run_model(run), prepared.splits["dev"], prepared.pad_token_id, analyses.get("batch_size", 64)
        )
        folds = probe_accuracy(vectors, split_labels(prepared, "dev"), f4["folds"], f4["random_state"])
        (got,) = table[(table["representation"] == "masked") & (table["seed"] == seed)]["probe_accuracy"]
        assert got == pytest.approx(folds.mean(), abs=1e-6)


def _sizes(source: str) -> tuple[int, int]:
    """(pretrained parameters, hidden size) of a model, counted with transformers on the meta device."""
    import torch
    from transformers import AutoConfig, AutoModel

    from maskbert.pretrained import resolve_model_path

    model_config = AutoConfig.from_pretrained(resolve_model_path(source))
    with torch.device("meta"):
        backbone = AutoModel.from_config(model_config)
    return sum(p.numel() for p in backbone.parameters()), model_config.hidden_size


def check_memory_outputs(res: Path, config: dict, workdir: Path) -> None:
    """Tables 2 (memory) and 8 against the paper's conventions worked out by hand from the model's size and a
    masking run: fp32 = 4 bytes, a mask bit 1/8 byte, a classifier its weight matrix (biases left out),
    MB = 10^6 bytes; the coded columns at the rate of the selected masking runs' summaries (coded bits over
    masked weights). BERT-base's Table 8 counts are the paper's own up to POS (tests/test_report.py says why
    they differ from there)."""
    from maskbert.data import get_task
    from reproduction.report import PAPER_TASK_ORDER

    source = (config.get("model_paths") or {}).get(MINILM, MINILM)
    pretrained, hidden = _sizes(source)
    runs = {
        (task, seed): workdir / run
        for task in config["tasks"]
        for seed, run in _selection(res, config, task, "masking")["runs"].items()
    }
    coded = [_read(run / "summary.json")["mask_coded"] for run in runs.values()]
    rate = sum(c["bits"] for c in coded) / sum(c["weights"] for c in coded)
    binary = _read(runs["synth-sentiment", "1"] / "summary.json")
    masks = binary["masked_weights"]  # a binary task's masks: the chosen blocks, W_P and the 2-output W_T
    classifier = 2 * hidden

    def masking_mb(members, bits_per_weight=1.0):
        return (4 * pretrained + members * (masks * bits_per_weight / 8 + 4 * classifier)) / 1e6

    table = pd.read_csv(res / "tables/table2_memory.csv")
    minilm = table[table["model"] == MINILM]
    assert len(minilm) == 4
    for row in minilm.itertuples():
        if row.method == "finetuning":
            assert row.memory_mb == pytest.approx(row.members * 4 * (pretrained + classifier) / 1e6, abs=1e-5)
            assert pd.isna(row.coded_mb)
        else:
            assert row.memory_mb == pytest.approx(masking_mb(row.members), abs=1e-5)
            assert row.coded_mb == pytest.approx(masking_mb(row.members, rate), abs=1e-5)
            assert row.coded_mb < row.memory_mb

    memory = pd.read_csv(res / "tables/table8_memory.csv")
    tasks = config["memory"]["tasks"]
    for model in config["memory"]["models"]:
        rows = memory[memory["model"] == model].reset_index(drop=True)
        assert list(rows["task"]) == tasks and list(rows["n_tasks"]) == list(range(1, len(tasks) + 1))
        if model == "bert-base-uncased":
            same = rows[rows["task"].isin(PAPER_TASK_ORDER[: PAPER_TASK_ORDER.index("pos")])]
            assert len(same) == min(len(tasks), 8)
            for column in ("finetuning_params", "masking_params", "finetuning_mb", "masking_mb"):
                assert same[f"{column}_diff"].abs().max() < 1e-9, column  # the paper's numbers, exactly
            assert rows["masking_coded_mb"].isna().all()  # no run of it in the grid: no measured rate
            continue
        assert model == MINILM
        # what each task adds: its masks (W_T's included); finetuning a whole model; the fp32 classifier of
        # 2 outputs once (the paper stores one classifier per shape: tasks of one seed share it)
        previous = {"finetuning_params": 0, "masking_params": pretrained, "finetuning_mb": 0.0}
        previous.update(masking_mb=4 * pretrained / 1e6, masking_coded_mb=4 * pretrained / 1e6)
        binary_tasks = 0
        for row in rows.to_dict("records"):
            spec = get_task(row["task"])
            if spec.head_outputs == 2 and spec.kind in ("single", "pair"):
                head = classifier if binary_tasks == 0 else 0
                binary_tasks += 1
                added = {key: row[key] - previous[key] for key in previous}
                assert added["finetuning_params"] == pretrained + classifier
                assert added["masking_params"] == masks + head
                assert added["finetuning_mb"] == pytest.approx(4 * (pretrained + classifier) / 1e6, abs=1e-5)
                assert added["masking_mb"] == pytest.approx((masks / 8 + 4 * head) / 1e6, abs=1e-5)
                assert added["masking_coded_mb"] == pytest.approx(
                    (rate * masks / 8 + 4 * head) / 1e6, abs=1e-5
                )
            previous = {key: row[key] for key in previous}
        assert binary_tasks >= 2


def check_comparison_outputs(res: Path, config: dict, workdir: Path) -> None:
    """The methods comparison: every compared method's row holds its selection's dev scores and its selected
    runs' measured artifact bytes and trainable parameters; masking's coded row the coded artifact's bytes;
    the test score the mean of the runs' test metrics."""
    table = pd.read_csv(res / "tables/methods_comparison.csv")
    compared = config["comparison"]
    assert set(table["method"]) == set(compared["methods"]) and set(table["task"]) == set(compared["tasks"])
    for task in compared["tasks"]:
        for method in compared["methods"]:
            chosen = _selection(res, config, task, method)
            summaries = [_read(workdir / run / "summary.json") for run in chosen["runs"].values()]
            scores = list(chosen["dev_scores"].values())
            rows = table[(table["task"] == task) & (table["method"] == method)].set_index("storage")
            row = rows.loc[method]
            assert row["lr"] == chosen["best_lr"] and row["dev_mean"] == pytest.approx(np.mean(scores))
            assert row["dev_std"] == pytest.approx(np.std(scores))
            assert row["bytes_per_task"] == pytest.approx(np.mean([s["artifact_bytes"] for s in summaries]))
            assert row["trainable_params"] == summaries[0]["trainable_parameters"]
            for run, summary in zip(chosen["runs"].values(), summaries):  # bytes as they lie on disk
                files = [f for f in (workdir / run / "artifact").rglob("*") if f.is_file()]
                assert summary["artifact_bytes"] == sum(f.stat().st_size for f in files)
            tests = [
                _read(
                    res
                    / "test/all-MiniLM-L6-v2"
                    / task
                    / method
                    / _main_setting(config, method)
                    / f"seed{seed}/test_metrics.json"
                )
                for seed in chosen["seeds"]
            ]
            assert row["test_mean"] == pytest.approx(np.mean([t["score"] for t in tests]))
            if method == "masking":
                coded = rows.loc["masking, coded", "bytes_per_task"]
                assert coded == pytest.approx(np.mean([s["artifact_bytes_coded"] for s in summaries]))
                assert coded < row["bytes_per_task"]
    assert (res / "figures/methods_comparison.png").read_bytes()[:4] == b"\x89PNG"
