# Shared by every stage: the config checked (reproduction.workflow_config), the experiment grid (GRID:
# every setting, selection, training point and analysis job), the data and train jobs' command lines, output
# paths, the selection's input functions.

import json
import os
import shlex
import sys
from functools import cache
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.settings.types import DeploymentMethod

from maskbert.data import get_task
from maskbert.methods import METHODS as REGISTERED_METHODS
from reproduction import workflow_config
from reproduction.grid import Grid, lr_key, model_key, model_path


# ---------------------------------------------------------------------------------------------------
# Config: schemas/config.schema.yaml, then what it cannot say; every problem names its config key. The grid:
# a run's setting is its method's options, resolved and named by the method (`blocks2-11_sparsity0.05`,
# `full`), part of the run's path, so one training job serves every experiment that needs that point.
# ---------------------------------------------------------------------------------------------------
def _checked(check, *args):
    """`check(*args)`, its ValueError (a config problem, named) as a WorkflowError."""
    try:
        return check(*args)
    except ValueError as error:
        raise WorkflowError(str(error)) from None


for _warning in _checked(workflow_config.validate_config, config):
    logger.warning(_warning)
_sweep_problems = workflow_config.check_sweep_config(config)
if _sweep_problems:
    raise WorkflowError("Invalid config (sweeps):\n" + "\n".join(f"  {p}" for p in _sweep_problems))
GRID = _checked(Grid, config)
for _warning in GRID.analysis_warnings:
    logger.warning(_warning)

RESULTS = config.get("results", "results").rstrip("/")
MODELS = list(config["models"])
TASKS = list(config["tasks"])
METHODS = list(config["methods"])
SEEDS = GRID.seeds
TRAINING = config.get("training") or {}
MAX_LENGTH = int((config.get("data") or {}).get("max_length", 128))
THREADS_TRAIN = int((config.get("threads") or {}).get("train", 1))
THREADS_EVALUATE = int((config.get("threads") or {}).get("evaluate", 1))
GROUP_BY_LENGTH = bool(TRAINING.get("group_by_length", False))
PRECISION = str(TRAINING.get("precision", "fp32"))
MODEL_OF_KEY = GRID.models  # {model key: model}, every model of every experiment
TEST_TASKS = [t for t in TASKS if "test" in get_task(t).splits]


@cache
def model_source(model):
    """What from_pretrained loads for a model: config model_paths.<model>, else its name."""
    return model_path(config, model)


@cache
def batch_size(task):  # the train rule's param
    return workflow_config.batch_size(config, task)


def setting_params(w):
    """The options of the run at wildcards w (a train, select or ensemble job's param)."""
    return GRID.options(w.method, w.setting)


# ---------------------------------------------------------------------------------------------------
# The jobs' command lines (rules/data.smk, rules/train.smk): `maskbert prepare` and `maskbert train`.
# ---------------------------------------------------------------------------------------------------
# `maskbert` as the jobs run it: with this Snakemake's interpreter (the project's environment; a cluster
# node runs the job with the same interpreter path), or the rules' conda environment's under --sdm conda;
# either way maskbert comes from this checkout, installed or not.
_JOB_PYTHON = (
    "python" if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method else sys.executable
)
MASKBERT_CLI = (
    f"PYTHONPATH={shlex.quote(workflow.basedir)}${{PYTHONPATH:+:$PYTHONPATH}}"
    f" {shlex.quote(_JOB_PYTHON)} -m maskbert.cli"
)
TRAIN_SETTINGS = {  # the config's training settings, the same for every run
    "epochs": int(TRAINING.get("epochs", 10)),
    "patience": int(TRAINING.get("patience", 2)),
    "max_length": MAX_LENGTH,
    "precision": PRECISION,
    "group_by_length": GROUP_BY_LENGTH,
}


def train_record(w):
    """What a training run learns from: its grid point, its method's resolved options and the config's
    training settings (the `record` param: a change in any value reruns the run)."""
    return {
        "model": model_source(MODEL_OF_KEY[w.model]),
        "task": w.task,
        "method": w.method,
        "options": setting_params(w),
        "seed": int(w.seed),
        "lr": float(w.lr),
        "batch_size": batch_size(w.task),
        **TRAIN_SETTINGS,
    }


def train_command(w, input, output, threads):
    """The `maskbert train` command line of the run at w, into the folder of its outputs, its CPU threads
    capped at the job's share (the `command` param: derived, not part of the record)."""
    record = train_record(w)
    arguments = ["train", "--model", record["model"], "--task", record["task"], "--method", record["method"],
                 "--options", json.dumps(record["options"], sort_keys=True), "--seed", record["seed"],
                 "--lr", record["lr"], "--out", os.path.dirname(output.summary), "--prepared", input.data,
                 "--epochs", record["epochs"], "--patience", record["patience"],
                 "--batch-size", record["batch_size"], "--max-length", record["max_length"],
                 "--precision", record["precision"]]
    if record["group_by_length"]:
        arguments.append("--group-by-length")
    return (f"OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} TOKENIZERS_PARALLELISM=false "
            f"{MASKBERT_CLI} {shlex.join(map(str, arguments))}")


# ---------------------------------------------------------------------------------------------------
# Output layout (every path under RESULTS; each experiment writes its own folder beside these)
# ---------------------------------------------------------------------------------------------------
DATA_DIR = f"{RESULTS}/data/{{model}}/{{task}}"
RUN_DIR = f"{RESULTS}/runs/{{model}}/{{task}}/{{method}}/{{setting}}/lr{{lr}}/seed{{seed}}"
RUN_SUMMARY = f"{RUN_DIR}/summary.json"
SELECT_ROUND_JSON = f"{RESULTS}/select/{{model}}/{{task}}/{{method}}/{{setting}}/round{{round}}.json"
SELECT_JSON = f"{RESULTS}/select/{{model}}/{{task}}/{{method}}/{{setting}}.json"
TEST_DIR = f"{RESULTS}/test/{{model}}/{{task}}/{{method}}/{{setting}}/seed{{seed}}"
ENSEMBLE_JSON = f"{RESULTS}/ensemble/{{model}}/{{task}}/{{method}}/{{setting}}.json"
TABLES = f"{RESULTS}/tables"
FIGURES = f"{RESULTS}/figures"
LOGS = f"{RESULTS}/logs"
PAPER_RESULTS = str(Path(workflow.basedir) / "resources" / "paper_results.csv")
CONDA_ENV = "envs/maskbert.yaml"  # relative to rules/; used with --sdm conda
RUN_OUTPUTS = ("summary.json", "run.json", "metrics.jsonl", "dev_predictions.safetensors", "artifact")


wildcard_constraints:
    model="[^/]+",
    task="[a-z0-9-]+",
    method="|".join(REGISTERED_METHODS),
    setting="[^/]+",
    seed="[0-9]+",
    lr="[0-9.e+-]+",
    round="[0-9]+",


def run_file(point, name="summary.json"):
    """Path of one file of a training run (a reproduction.grid.Point)."""
    run = RUN_DIR.format(model=model_key(point.model), task=point.task, method=point.method,
                         setting=point.setting, lr=lr_key(point.lr), seed=point.seed)
    return f"{run}/{name}"


def group_path(template, group, **fields):
    """`template` filled for a selection (a reproduction.grid.Group), e.g. its SELECT_JSON."""
    return template.format(model=model_key(group.model), task=group.task, method=group.method,
                           setting=group.setting, **fields)


def table_files(stem):
    return [f"{TABLES}/{stem}.{ext}" for ext in ("csv", "md", "tex")]


def report_table(stem, caption):
    """A table's three files; the CSV goes into the HTML report under "Tables"."""
    csv, md, tex = table_files(stem)
    return [report(csv, caption=f"../resources/report/{caption}", category="Tables"), md, tex]


def figure_files(stem):
    return [f"{FIGURES}/{stem}.{ext}" for ext in ("png", "pdf")]


def report_figure(stem, caption):
    """A figure's PNG (into the HTML report under "Figures") and PDF."""
    png, pdf = figure_files(stem)
    return [report(png, caption=f"../resources/report/{caption}", category="Figures"), pdf]


# ---------------------------------------------------------------------------------------------------
# Learning-rate selection with the §4 grid-border rule (rules/select.smk). Round 0 trains the configured
# grid; when a round's best rate is the smallest or largest of its grid, the next round adds the next value
# of the 1-3-5-7-9 sequence beyond it, up to learning_rates.max_extensions rounds.
# ---------------------------------------------------------------------------------------------------
def _group(w):
    return (w.model, w.task, w.method, w.setting)


def _selection_of(group):
    if group not in GRID.selections:
        raise WorkflowError(f"no experiment selects a learning rate for {group}")
    return GRID.selections[group]


def _round_path(group, round_index):
    model, task, method, setting = group
    return SELECT_ROUND_JSON.format(model=model, task=task, method=method, setting=setting, round=round_index)


def _round_decision(group, round_index):
    """A round's JSON (a checkpoint output: until it exists, Snakemake schedules the round first)."""
    model, task, method, setting = group
    path = checkpoints.select_round.get(model=model, task=task, method=method, setting=setting,
                                        round=round_index).output[0]
    return json.loads(Path(path).read_text())


def round_lrs(w):
    """The learning rates of selection round w.round: round 0's grid, else the previous round's grid plus
    the value(s) it asked for."""
    round_index = int(w.round)
    if round_index == 0:
        return _selection_of(_group(w))["lrs"]
    previous = _round_decision(_group(w), round_index - 1)
    return sorted(set(previous["grid_lrs"]) | set(previous["next_lrs"]))


def round_manifest(w):
    """(lr, seed, run directory) of every run a round compares, in the order of its inputs."""
    return [{"lr": lr, "seed": seed, "run": RUN_DIR.format(model=w.model, task=w.task, method=w.method,
                                                           setting=w.setting, lr=lr_key(lr), seed=seed)}
            for lr in round_lrs(w) for seed in _selection_of(_group(w))["seeds"]]


def round_inputs(w):
    """Every run summary of a round, plus the previous round's decision."""
    inputs = {"summaries": [f"{entry['run']}/summary.json" for entry in round_manifest(w)]}
    if int(w.round) > 0:
        inputs["previous"] = _round_path(_group(w), int(w.round) - 1)
    return inputs


def _final_decision(group):
    """The last round of a group, the first whose decision asks for no further learning rate."""
    round_index = 0
    while (decision := _round_decision(group, round_index))["next_lrs"]:
        round_index += 1
    return round_index, decision


def final_round(w):
    return _round_path(_group(w), _final_decision(_group(w))[0])


def selected_run_files(model, task, method, setting, names=RUN_OUTPUTS):
    """The files `names` of every seed's run at the selected learning rate, read from the final round (a
    checkpoint output), so that a downstream rule declares what it reads."""
    _, decision = _final_decision((model_key(model), task, method, setting))
    return [f"{decision['runs'][str(seed)]}/{name}" for seed in decision["seeds"] for name in names]
