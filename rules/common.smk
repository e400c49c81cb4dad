# Shared by every stage: the config checked (reproduction.workflow_config), the experiment grid
# (reproduction.grid: every setting, selection and training point), output paths and input functions.

from functools import cache
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

import json

from maskbert.data import get_task
from maskbert.methods import METHODS as REGISTERED_METHODS
from reproduction import workflow_config
from reproduction.grid import Grid, configured_options, lr_key, model_key, model_path

WORKFLOW_DIR = Path(workflow.basedir)


# ---------------------------------------------------------------------------------------------------
# Config: schemas/config.schema.yaml (string values coerced to its types), then what it cannot say; every
# problem names its config key.
# ---------------------------------------------------------------------------------------------------
def _checked(check, *args):
    """`check(*args)`, its ValueError (a config problem, named) as a WorkflowError."""
    try:
        return check(*args)
    except ValueError as error:
        raise WorkflowError(str(error)) from None


for _warning in _checked(workflow_config.validate_config, config):
    logger.warning(_warning)


def source_of(task):
    """{"source", "path"} for a task: data.sources.<task>, else hub (or the task's only source)."""
    return workflow_config.source_of(config, task)


@cache
def local_fingerprint(task):
    """Prepare_data's param that reruns it when a file of the task's local copy changes (None otherwise)."""
    return workflow_config.local_fingerprint(config, task)


# ---------------------------------------------------------------------------------------------------
# The grid: main grid and sweeps, one enumeration (reproduction.grid.Grid). A run's setting is its method's
# options, resolved by the method (every default spelt out) and named by it (`blocks2-11_sparsity0.05` for
# masking, `full` for a method without options); the setting is part of the run's path, so one training job
# serves every experiment that needs that point, and the train job reads its options back from GRID.
# ---------------------------------------------------------------------------------------------------
_sweep_problems = workflow_config.check_sweep_config(config)
if _sweep_problems:
    raise WorkflowError("Invalid config (sweeps):\n" + "\n".join(f"  {p}" for p in _sweep_problems))
GRID = _checked(Grid, config)

RESULTS = config.get("results", "results").rstrip("/")
MODELS = list(config["models"])
TASKS = list(config["tasks"])
METHODS = list(config["methods"])
SEEDS = GRID.seeds
TRAINING = config.get("training") or {}
DATA = config.get("data") or {}
MAX_LENGTH = int(DATA.get("max_length", 128))
MEMORY = config.get("memory") or {}
ENSEMBLE_METHODS = list((config.get("ensemble") or {}).get("methods", ["majority", "logits", "probabilities"]))
MAX_EXTENSIONS = int(config["learning_rates"].get("max_extensions", 2))
THREADS_TRAIN = int((config.get("threads") or {}).get("train", 1))
THREADS_EVALUATE = int((config.get("threads") or {}).get("evaluate", 1))
GROUP_BY_LENGTH = bool(TRAINING.get("group_by_length", False))
PRECISION = str(TRAINING.get("precision", "fp32"))
MODEL_OF_KEY = GRID.models  # {model key: model}, every model of every experiment


def register_model(model):
    """Make a model known to the rules by its key; experiments call this for models outside `models`."""
    return _checked(GRID.register_model, model)


@cache
def model_source(model):
    """What from_pretrained loads for a model: config model_paths.<model>, else its name."""
    return model_path(config, model)


@cache
def batch_size(task):
    return workflow_config.batch_size(config, task)


def setting_of(model, method, options):
    """Register the (already resolved) options of a run of `method`; the setting's path component."""
    return _checked(GRID.register_setting, method, options)


def main_setting(model, method):
    """The main grid's setting of a (model, method): config method_options, then method_options_by_model."""
    return _checked(GRID.setting, model, method)


def sweep_setting(model, method, **options):
    """The setting of (model, method) with the main grid's options `options` replaced."""
    return _checked(GRID.setting, model, method, options)


def setting_params(w):
    """The options of the run at wildcards w (a train, select or ensemble job's param)."""
    return GRID.settings[(w.method, w.setting)]


def register_selection(model, task, method, setting, lrs=None, seeds=None):
    """Declare that (model, task, method, setting) gets a learning rate selected on dev; experiments that
    reuse a point must agree on its seeds and initial grid."""
    group = _checked(GRID.add_selection, model, task, method, setting, lrs, seeds)
    return (model_key(group.model), group.task, group.method, group.setting)


MAIN_GROUPS = [
    {"model": model_key(g.model), "task": g.task, "method": g.method, "setting": g.setting} for g in GRID.main
]


def has_test(task):
    return "test" in get_task(task).splits


TEST_TASKS = [t for t in TASKS if has_test(t)]

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
PAPER_RESULTS = str(WORKFLOW_DIR / "resources" / "paper_results.csv")
CONDA_ENV = "envs/maskbert.yaml"  # relative to rules/; used with --sdm conda
TABLE_FORMATS = ("csv", "md", "tex")
FIGURE_FORMATS = ("png", "pdf")
RUN_OUTPUTS = ("summary.json", "run.json", "metrics.jsonl", "dev_predictions.safetensors", "artifact")


wildcard_constraints:
    model="[^/]+",
    task="[a-z0-9-]+",
    method="|".join(REGISTERED_METHODS),
    setting="[^/]+",
    seed="[0-9]+",
    lr="[0-9.e+-]+",
    round="[0-9]+",


def run_file(model, task, method, setting, lr, seed, name="summary.json"):
    """Path of one file of a run (model: a name or its key)."""
    run = RUN_DIR.format(model=model_key(model), task=task, method=method, setting=setting, lr=lr_key(lr),
                         seed=int(seed))
    return f"{run}/{name}"


def selection_file(model, task, method, setting):
    return SELECT_JSON.format(model=model_key(model), task=task, method=method, setting=setting)


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


# ---------------------------------------------------------------------------------------------------
# Input functions and paths shared by the stages
# ---------------------------------------------------------------------------------------------------
CODED_RATE_JSON = f"{RESULTS}/memory/coded_mask_rate.json"


def coded_rate_inputs(w):
    """The summaries of every model's selected main-grid masking runs, named by the model's key."""
    return {model_key(model): [path for task in TASKS
                               for path in selected_run_files(model, task, "masking", main_setting(model, "masking"),
                                                              ("summary.json",))]
            for model in MODELS}


def main_paths(template, tasks=None):
    """`template` filled for every (model, task, method) of the main grid, at its main setting."""
    tasks = TASKS if tasks is None else tasks
    return [template.format(**g, seed="{seed}") for g in MAIN_GROUPS if g["task"] in tasks]


def table_files(stem):
    return [f"{TABLES}/{stem}.{ext}" for ext in TABLE_FORMATS]


def report_table(stem, caption):
    """A table's three files; the CSV goes into the HTML report under "Tables"."""
    csv = report(f"{TABLES}/{stem}.csv", caption=f"../resources/report/{caption}", category="Tables")
    return [csv, f"{TABLES}/{stem}.md", f"{TABLES}/{stem}.tex"]


def figure_files(stem):
    return [f"{FIGURES}/{stem}.{ext}" for ext in FIGURE_FORMATS]


def num_labels_of(tasks):
    """{task: classifier outputs} in the given order (multiple choice: 1, one score per choice)."""
    return {t: int(get_task(t).head_outputs) for t in tasks}



def comparison_files(model, task, method, setting):
    """A compared (model, task, method)'s selection and, for a task with a test split, its seeds' test metrics:
    paths that need no checkpoint, so every selection of the comparison is planned at once."""
    tests = []
    if has_test(task):
        test_dir = TEST_DIR.format(model=model, task=task, method=method, setting=setting, seed="{seed}")
        tests = [f"{test_dir.format(seed=seed)}/test_metrics.json" for seed in SEEDS]
    return {"selection": selection_file(model, task, method, setting), "tests": tests}


def comparison_manifest(w):
    """Per compared (model, task, method): its selection, its selected runs' summaries (read from the
    selection checkpoint) and its test metrics, by path, as the methods_comparison script reads them."""
    return [
        {**comparison_files(*group), "summaries": selected_run_files(MODEL_OF_KEY[group[0]], *group[1:], ("summary.json",))}
        for group in COMPARISON_GROUPS
    ]


def comparison_summaries(w):
    """The selected runs' summaries of every compared (model, task, method)."""
    return [path for group in comparison_manifest(w) for path in group["summaries"]]
