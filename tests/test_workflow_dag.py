"""The workflow's DAG (dry runs, no downloads, nothing trained): job counts from the config, what a new seed
or a changed epoch count reruns, and lint."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_runs import job_counts, snakemake

ROOT = Path(__file__).resolve().parents[1]


def nothing_to_do(output: str) -> bool:
    return "Nothing to be done" in output


def test_default_config_dry_run_counts_every_grid_point(tmp_path):
    # From config.yaml's values: 11 masking rates for every model; finetuning 5 rates (BERT, DistilBERT),
    # 7 for RoBERTa, 8 for DistilBERT on SWAG; 11 tasks, 4 seeds.
    masking = 3 * 11 * 11 * 4
    finetuning = (5 * 11 + 7 * 11 + 5 * 10 + 8 * 1) * 4
    n_train = masking + finetuning
    assert n_train == 2212
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    proc = snakemake(
        "tables",
        "--configfile",
        str(ROOT / "config.yaml"),
        "--dry-run",
        "--quiet",
        "all",
        "--directory",
        str(tmp_path),
    )
    out = proc.stdout + proc.stderr
    counts = job_counts(out)
    # The §5.1/§5.2 sweeps add the points the main grid lacks (tests/test_sweeps_dag.py): layer-wise
    # 3 tasks x (9 block sets x 2 sparsities - the main 2-11/5%) x 11 rates x 4 seeds; Figure 1 4 tasks x 21
    # sparsities x 4 seeds, less the 0-11 runs at 5e-5 and 5%/15% the layer-wise grid has (3 tasks x 2 x 4).
    # The methods comparison (config key `comparison`) adds BitFit (6 rates), LoRA (5) and (IA)^3 (5) on BERT and
    # RoBERTa over MRPC, SST-2, CoLA, RTE and QNLI, 4 seeds; its masking and finetuning runs are the main grid's.
    comparison = 2 * 5 * (6 + 5 + 5) * 4
    assert counts["train"] == n_train + 3 * 17 * 11 * 4 + (4 * 21 * 4 - 3 * 2 * 4) + comparison
    # SEM and POS are local-only: the default config names placeholder paths and warns, naming the key,
    # while they do not exist; the dry run still works.
    for task, path in (("sem", "data/semeval2016"), ("pos", "data/ptb_pos")):
        assert config["data"]["sources"][task] == {"source": "local", "path": path}
        assert f"config key 'data.sources.{task}.path': {path} does not exist" in out, out[:3000]
    assert counts["prepare_data"] == len(config["models"]) * len(config["tasks"])
    groups = len(config["models"]) * len(config["tasks"]) * len(config["methods"])
    # round 0 of each; later rounds appear at run time; the layer-wise sweep adds 3 tasks x 17 settings
    assert counts["select_round"] == counts["select_lr"] == groups + 3 * 17 + 2 * 5 * 3  # + the comparison's
    test_tasks = [t for t in config["tasks"] if t in ("sem", "trec", "ag", "pos", "ner")]
    assert counts["evaluate_test"] == counts["ensemble"] == len(config["models"]) * len(test_tasks) * 2
    # How long this takes is a benchmark, not a test: bench/dag_time.py (bench/results/dag_time.md).


@pytest.fixture(scope="module")
def touched(tmp_path_factory):
    """A small grid run once with stubbed scripts (empty outputs, real Snakemake provenance), as after a
    real run; each test then dry-runs a changed config against it."""
    tmp_path = tmp_path_factory.mktemp("grid")
    config = {
        "results": "res",
        "models": ["bert-base-uncased"],
        "tasks": ["trec", "mrpc"],
        "methods": ["masking", "finetuning"],
        "seeds": [1, 2],
        "learning_rates": {
            "masking": [1.0e-4, 3.0e-4],
            "finetuning": [1.0e-5, 3.0e-5],
            "overrides": [],
            "max_extensions": 0,
        },
        "training": {"epochs": 10},
        "memory": {"models": ["bert-base-uncased"], "tasks": ["trec", "mrpc"]},
    }

    def write(cfg) -> str:
        path = tmp_path / f"grid-{abs(hash(repr(cfg)))}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return str(path)

    common = ["--directory", str(tmp_path), "--cores", "2"]
    snakemake("tables", "--configfile", write(config), *common, env={"MASKBERT_WORKFLOW_STUB": "1"})
    proc = snakemake("tables", "--configfile", write(config), "--dry-run", *common)
    assert nothing_to_do(proc.stdout + proc.stderr), proc.stdout
    return config, write, common


def train_outputs(output: str) -> list[str]:
    return re.findall(r"output: (\S+/runs/\S+/summary\.json)", output)


def test_new_seed_adds_only_its_train_jobs(touched):
    config, write, common = touched
    config = {**config, "seeds": [1, 2, 3]}
    proc = snakemake("tables", "--configfile", write(config), "--dry-run", *common)
    out = proc.stdout + proc.stderr
    counts = job_counts(out)
    assert counts["train"] == 2 * 2 * 2  # tasks x methods x lrs, for seed 3 only
    assert all("/seed3/" in path for path in train_outputs(out)), train_outputs(out)
    assert "prepare_data" not in counts
    # Downstream aggregation reruns: selection of every group, test + ensemble of TREC (has a test split).
    assert counts["select_round"] == counts["select_lr"] == 4
    assert counts["evaluate_test"] == 2 and counts["ensemble"] == 2
    assert counts["table1_dev"] == counts["table4_best_lr"] == counts["table2_table6_test_error"] == 1
    # Table 8's coded column is priced at the rate the selected masking runs reach, so it follows them;
    # Table 5 (data only) does not rerun.
    assert (
        counts["coded_mask_rate"] == counts["table8_figure3_memory"] == 1
        and "table5_split_sizes" not in counts
    )


def test_epochs_change_reruns_every_train_job_and_no_tokenization(touched):
    config, write, common = touched
    config = {**config, "training": {"epochs": 3}}
    proc = snakemake("tables", "--configfile", write(config), "--dry-run", *common)
    out = proc.stdout + proc.stderr
    counts = job_counts(out)
    assert counts["train"] == 2 * 2 * 2 * 2
    assert "prepare_data" not in counts
    assert "params" in out  # the rerun reason: changed params


def test_sparsity_change_reruns_only_masking_runs(touched):
    config, write, common = touched
    config = {**config, "method_options": {"masking": {"initial_sparsity": 0.15}}}
    out = snakemake("tables", "--configfile", write(config), "--dry-run", *common)
    out = out.stdout + out.stderr
    assert job_counts(out)["train"] == 2 * 2 * 2
    assert all("/masking/" in path for path in train_outputs(out))


def test_max_length_change_redoes_tokenization(touched):
    config, write, common = touched
    config = {**config, "data": {"max_length": 64}}
    out = snakemake("tables", "--configfile", write(config), "--dry-run", *common)
    counts = job_counts(out.stdout + out.stderr)
    assert counts["prepare_data"] == 2 and counts["train"] == 16


def test_missing_local_copy_fails_its_data_job_naming_the_directory(tmp_path):
    """The default config's SEM placeholder: the data job fails with the data layer's one-line error."""
    proc = snakemake(
        "--configfile",
        str(ROOT / "config.yaml"),
        "--directory",
        str(tmp_path),
        "--cores",
        "1",
        "results/data/bert-base-uncased/sem",
        check=False,
    )
    assert proc.returncode != 0
    log = (tmp_path / "results/logs/data/bert-base-uncased/sem.log").read_text()
    assert (
        "maskbert prepare: error: data/semeval2016: not found; expected a directory with the SEM files" in log
    ), log[-2000:]


def test_editing_a_local_file_redoes_tokenization(tmp_path):
    """prepare_data's output is a directory and the local files are not inputs: their fingerprint (paths,
    sizes, mtimes) is a param, so an edited file reruns the job; a hub task's data job is untouched."""
    local = tmp_path / "mydata" / "trec"
    local.mkdir(parents=True)
    (local / "train_5500.label").write_text(
        "DESC:manner How did serfdom develop in and then leave Russia ?\n"
    )
    (local / "TREC_10.label").write_text("NUM:dist How far is it from Denver to Aspen ?\n")
    config = {
        "results": "res",
        "models": ["bert-base-uncased"],
        "tasks": ["trec", "mrpc"],
        "data": {"sources": {"trec": {"source": "local", "path": "mydata"}}},
    }
    (tmp_path / "local.yaml").write_text(yaml.safe_dump(config))
    targets = ["res/data/bert-base-uncased/trec", "res/data/bert-base-uncased/mrpc"]
    common = [
        "--configfile",
        str(ROOT / "config.yaml"),
        str(tmp_path / "local.yaml"),
        "--directory",
        str(tmp_path),
        "--cores",
        "1",
    ]
    snakemake(*targets, *common, env={"MASKBERT_WORKFLOW_STUB": "1"})
    proc = snakemake(*targets, *common, "--dry-run")
    assert nothing_to_do(proc.stdout + proc.stderr), proc.stdout

    with (local / "train_5500.label").open("a") as f:
        f.write("LOC:city What is the capital of Peru ?\n")
    out = snakemake(*targets, *common, "--dry-run")
    out = out.stdout + out.stderr
    assert job_counts(out) == {"prepare_data": 1, "total": 1}, out
    assert "output: res/data/bert-base-uncased/trec" in out and "params" in out


def test_table8_counts_one_classifier_output_for_swag(tmp_path):
    """Table 8 from the default config's memory tasks, computed for real (model configs only): SWAG's
    classifier has one output (choices are scored jointly). From POS on two differences to the paper add up:
    our POS tag set has 45 PTB tags (the paper's classifier 49), and a tagging head reads every wordpiece, not
    [CLS] through the pooler, so a tagging task stores no W_P mask (the paper counts 768 x 768 mask bits of
    an unused pooler for POS and NER); SWAG adds no further difference."""
    targets = [f"results/tables/table8_memory.{ext}" for ext in ("csv", "md", "tex")]
    # Without masking runs in the grid there is no measured coded rate: Table 8 comes from configs alone.
    snakemake(
        *targets,
        "--configfile",
        str(ROOT / "config.yaml"),
        "--config",
        "methods=[finetuning]",
        "--directory",
        str(tmp_path),
        "--cores",
        "1",
    )
    table = pd.read_csv(tmp_path / "results/tables/table8_memory.csv")
    assert list(table["task"]) == [
        "mrpc",
        "sst2",
        "cola",
        "rte",
        "qnli",
        "sem",
        "trec",
        "ag",
        "pos",
        "ner",
        "swag",
    ]
    pos = list(table["task"]).index("pos")
    assert (table["finetuning_params_diff"].iloc[:pos] == 0).all()
    assert (table["finetuning_params_diff"].iloc[pos:] == (45 - 49) * 768).all(), table[
        "finetuning_params_diff"
    ]
    assert (table["masking_params_diff"].iloc[:pos] == 0).all()
    pooler = 768 * 768
    want = [2 * (45 - 49) * 768 - pooler, 2 * (45 - 49) * 768 - 2 * pooler, 2 * (45 - 49) * 768 - 2 * pooler]
    assert table["masking_params_diff"].iloc[pos:].tolist() == want, table["masking_params_diff"]


def test_demo_config_dry_run(tmp_path):
    proc = snakemake(
        "--configfile",
        str(ROOT / "config.yaml"),
        str(ROOT / "config/demo.yaml"),
        "--dry-run",
        "--quiet",
        "all",
        "--directory",
        str(tmp_path),
    )
    counts = job_counts(proc.stdout + proc.stderr)
    # model x tasks x methods x seeds x lrs, and the demo's sweeps' 7 runs (tests/test_sweeps_dag.py)
    assert counts["train"] == 1 * 2 * 2 * 2 * 2 + 7 + 3 * 2  # + the comparison: 3 methods x 1 rate x 2 seeds
    assert counts["prepare_data"] == 2
    assert counts["ensemble"] == 4  # the main grid's test tasks x methods
    assert (
        counts["evaluate_test"] == 4 + 3
    )  # and the comparison's three methods on synth-sentiment's test split


def test_lint_is_clean():
    proc = snakemake("--lint", "--directory", str(ROOT))
    out = proc.stdout + proc.stderr
    assert "Lints for" not in out, out
    assert "Congratulations" in out


def _stub_run(tmp_path, config, best_lr=None, extra=()):
    """Run the DAG with stubbed scripts (real selection rules) and return the run directories it created."""
    path = tmp_path / "stub.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {"MASKBERT_WORKFLOW_STUB": "1", **({"MASKBERT_STUB_BEST_LR": str(best_lr)} if best_lr else {})}
    snakemake(
        "tables", "--configfile", str(path), *extra, "--directory", str(tmp_path), "--cores", "2", env=env
    )
    return sorted(
        p.parent.relative_to(tmp_path / "res/runs").as_posix()
        for p in (tmp_path / "res/runs").rglob("summary.json")
    )


GRID_CONFIG = {
    "results": "res",
    "models": ["bert-base-uncased"],
    "tasks": ["mrpc"],
    "methods": ["masking"],
    "seeds": [1, 2],
    "learning_rates": {"masking": [1.0e-4, 3.0e-4, 5.0e-4], "overrides": [], "max_extensions": 2},
    "memory": {"models": ["bert-base-uncased"], "tasks": ["mrpc"]},
}


@pytest.mark.parametrize(
    ("best_lr", "added"),
    [(5.5e-4, ["0.0007"]), (3e-4, []), (1e-5, ["7e-05", "9e-05"]), (1e-2, ["0.0007", "0.0009"])],
)
def test_grid_border_rule_extends_the_grid(tmp_path, best_lr, added):
    """§4: a best rate on the grid's border trains the next 1-3-5-7-9 value beyond it (every seed) and selects
    again, up to max_extensions rounds; a best rate inside the grid adds nothing."""
    runs = _stub_run(tmp_path, GRID_CONFIG, best_lr)
    lrs = sorted({run.split("/")[-2].removeprefix("lr") for run in runs}, key=float)
    assert lrs == sorted(["0.0001", "0.0003", "0.0005", *added], key=float)
    assert len(runs) == 2 * len(lrs)  # every seed of every rate
    (selection_path,) = (tmp_path / "res/select/bert-base-uncased/mrpc/masking").glob("*.json")
    selection = json.loads(selection_path.read_text())
    assert selection["extensions"] == len(added)
    assert selection["grid_lrs"] == sorted(float(lr) for lr in lrs)


def test_batch_size_per_task_and_masked_blocks_reach_the_train_job(tmp_path):
    config = {
        **GRID_CONFIG,
        "tasks": ["mrpc", "ag"],
        "methods": ["masking", "finetuning"],
        "seeds": [1],
        "learning_rates": {"masking": [1.0e-4], "finetuning": [1.0e-5], "max_extensions": 0},
        "training": {"batch_size": 16, "batch_size_per_task": {"ag": 128}},
        "method_options": {"masking": {"initial_sparsity": 0.15}},
        "method_options_by_model": {"bert-base-uncased": {"masking": {"masked_blocks": "4-11"}}},
        "memory": {"models": ["bert-base-uncased"], "tasks": ["mrpc"]},
    }
    runs = _stub_run(tmp_path, config)
    params = {run: json.loads((tmp_path / "res/runs" / run / "run.json").read_text()) for run in runs}
    assert set(params) == {
        "bert-base-uncased/mrpc/masking/blocks4-11_sparsity0.15/lr0.0001/seed1",
        "bert-base-uncased/ag/masking/blocks4-11_sparsity0.15/lr0.0001/seed1",
        "bert-base-uncased/mrpc/finetuning/full/lr1e-05/seed1",
        "bert-base-uncased/ag/finetuning/full/lr1e-05/seed1",
    }
    for run, p in params.items():
        assert p["batch_size"] == (128 if "/ag/" in run else 16)
        masking = "/masking/" in run
        options = p["options"]
        assert (options.get("masked_blocks"), options.get("initial_sparsity")) == (
            ("4-11", 0.15) if masking else (None, None)
        )
        assert p["lr"] == (1e-4 if masking else 1e-5) and p["seed"] == 1


@pytest.mark.parametrize(
    ("cli", "file_change"),
    [
        ("seeds=[1,2,3]", {"seeds": [1, 2, 3]}),
        ('training={"epochs": 3}', {"training": {"epochs": 3}}),
        (
            'learning_rates={"masking": [1e-4, 3e-4, 1e-3]}',
            {"learning_rates": {"masking": [1e-4, 3e-4, 1e-3]}},
        ),
        (
            'training={"batch_size_per_task": {"trec": 16}}',
            {"training": {"batch_size_per_task": {"trec": 16}}},
        ),
    ],
)
def test_command_line_config_plans_what_the_same_file_change_plans(touched, cli, file_change):
    """Snakemake hands values nested in --config lists and mappings over as strings; they are converted by
    their schema type, so `--config` plans exactly the jobs the same change in a config file plans."""
    config, write, common = touched

    def merge(base, over):
        return {
            k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
            for k, v in {**base, **over}.items()
        }

    def planned(*args):
        out = snakemake("tables", *args, "--dry-run", *common)
        return sorted(re.findall(r"output: (\S+)", out.stdout + out.stderr))

    from_file = planned("--configfile", write(merge(config, file_change)))
    from_cli = planned("--configfile", write(config), "--config", cli)
    assert from_file == from_cli and from_file, (from_file, from_cli)


@pytest.mark.parametrize(
    ("cli", "key"),
    [
        ('learning_rates={"masking": ["abc"]}', "learning_rates.masking.0"),
        ('training={"epochs": "1.5"}', "training.epochs"),
        ("seeds=[1,x]", "seeds.1"),
    ],
)
def test_command_line_config_bad_values_name_the_key(tmp_path, cli, key):
    proc = snakemake(
        "tables",
        "--configfile",
        str(ROOT / "config.yaml"),
        "--config",
        cli,
        "--dry-run",
        "--directory",
        str(tmp_path),
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and f"config key '{key}'" in out, out[-2000:]
