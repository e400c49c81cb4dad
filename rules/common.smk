# Shared by every stage: config validation, the experiment grid, output paths and input functions.

from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

import json

from maskbert.data import get_task
from maskbert.methods import METHODS, get_method
from reproduction.grid import config_schema, configured_options, setting_options
from reproduction.selection import configured_grid

WORKFLOW_DIR = Path(workflow.basedir)


# ---------------------------------------------------------------------------------------------------
# Config: values arrive as strings from YAML ("1e-5" has no dot) and from `--config` (Snakemake 9 hands
# values nested in lists and mappings over as strings). Every value whose schema type is integer, number or
# boolean is converted from its string form here, driven by the schema itself; what does not convert stays a
# string and the schema then refuses it, naming the key.
# ---------------------------------------------------------------------------------------------------
def _resolve_ref(node, schema):
    while isinstance(node, dict) and "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node if isinstance(node, dict) else {}


def _from_string(text, kind):
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        return text
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def coerce_to_schema(value, node, schema):
    """`value` with its string leaves converted to the integer / number / boolean its schema node asks for."""
    node = _resolve_ref(node, schema)
    if isinstance(value, str):
        return _from_string(value, node.get("type"))
    if isinstance(value, dict):
        properties = node.get("properties", {})
        extra = node.get("additionalProperties")
        return {k: coerce_to_schema(v, properties.get(k, extra if isinstance(extra, dict) else {}), schema)
                for k, v in value.items()}
    if isinstance(value, list):
        return [coerce_to_schema(v, node.get("items", {}), schema) for v in value]
    return value


def _config_key(path):
    return ".".join(str(p) for p in path) or "<top level>"


def validate_config(cfg):
    """Validate against schemas/config.schema.yaml; on error, name the offending key first."""
    import jsonschema
    import yaml

    schema_path = WORKFLOW_DIR / "schemas" / "config.schema.yaml"
    schema = config_schema(cfg.get("method_modules") or [])  # its method enum: the registry's methods
    cfg.update(coerce_to_schema(dict(cfg), schema, schema))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(cfg), key=lambda e: list(e.path))
    if errors:
        lines = [f"  config key '{_config_key(e.absolute_path)}': {e.message}" for e in errors]
        raise WorkflowError("Invalid config (schemas/config.schema.yaml):\n" + "\n".join(lines))
    validate(cfg, schema=str(schema_path))
    _check_semantics(cfg)


def _check_semantics(cfg):
    """What the schema cannot say: task capabilities from the registry."""
    problems = []
    for task in cfg["tasks"]:
        spec = get_task(task)
        if "dev" not in spec.splits:
            problems.append(f"config key 'tasks': task '{task}' has no dev split to select a learning rate on")
        source = source_of(task, cfg)
        if source["source"] == "local" and not source["path"]:
            logger.warning(
                f"config key 'data.sources.{task}': task '{task}' is read from local files only; "
                f"set data.sources.{task}.path before its data job runs"
            )
        elif source["source"] == "local" and not Path(source["path"]).exists():
            # A warning, not an error: dry runs and other targets still work; the data job then fails
            # with the data layer's one-line error naming the directory.
            logger.warning(
                f"config key 'data.sources.{task}.path': {source['path']} does not exist (relative to "
                f"{Path.cwd()}); supply the {spec.display_name} files there (formats: maskbert/data/README.md) "
                f"before the data jobs of task '{task}' run"
            )
        if source["source"] not in spec.sources:
            problems.append(
                f"config key 'data.sources.{task}.source': task '{task}' has no source '{source['source']}'; "
                f"it supports: {', '.join(spec.sources)}"
            )
    for i, override in enumerate(cfg["learning_rates"].get("overrides") or []):
        if override.get("method") and override["method"] not in cfg["methods"]:
            logger.warning(f"config key 'learning_rates.overrides.{i}': method {override['method']} is not run")
    comparison = cfg.get("comparison") or {}
    pairs = [(model, method) for model in cfg["models"] for method in cfg["methods"]]
    pairs += [(model, method) for model in comparison.get("models", []) for method in comparison.get("methods", [])]
    for task in comparison.get("tasks", []):
        if "dev" not in get_task(task).splits:
            problems.append(f"config key 'comparison.tasks': task '{task}' has no dev split to select a learning rate on")
    for method in dict.fromkeys(method for _, method in pairs):
        if method not in cfg["learning_rates"]:
            problems.append(f"config key 'learning_rates.{method}': a grid is needed for method '{method}'")
    for model, method in dict.fromkeys(pairs):
        try:
            configured_options(cfg, model, method, check=True)
        except (ValueError, FileNotFoundError) as error:
            by_model = method in ((cfg.get("method_options_by_model") or {}).get(model) or {})
            key = f"method_options_by_model.{model}.{method}" if by_model else f"method_options.{method}"
            problems.append(f"config key '{key}' (model {model}): {error}")
    if problems:
        raise WorkflowError("Invalid config:\n" + "\n".join(f"  {p}" for p in problems))


def source_of(task, cfg=None):
    """{"source", "path"} for a task: data.sources.<task>, else hub (or the task's only source)."""
    cfg = config if cfg is None else cfg
    entry = ((cfg.get("data") or {}).get("sources") or {}).get(task)
    if entry:
        return {"source": entry["source"], "path": entry.get("path")}
    spec = get_task(task)
    return {"source": "hub" if "hub" in spec.sources else spec.sources[0], "path": None}


validate_config(config)

# ---------------------------------------------------------------------------------------------------
# The main grid
# ---------------------------------------------------------------------------------------------------
RESULTS = config.get("results", "results").rstrip("/")
MODELS = list(config["models"])
TASKS = list(config["tasks"])
METHODS = list(config["methods"])
SEEDS = [int(s) for s in config["seeds"]]
TRAINING = config.get("training") or {}
DATA = config.get("data") or {}
MAX_LENGTH = int(DATA.get("max_length", 128))
MEMORY = config.get("memory") or {}
ENSEMBLE_METHODS = list((config.get("ensemble") or {}).get("methods", ["majority", "logits", "probabilities"]))
MAX_EXTENSIONS = int(config["learning_rates"].get("max_extensions", 2))
THREADS_TRAIN = int((config.get("threads") or {}).get("train", 1))
THREADS_EVALUATE = int((config.get("threads") or {}).get("evaluate", 1))


def model_key(model):
    """A model's directory name in results/ (the last part of a hub id)."""
    return model.split("/")[-1]


MODEL_OF_KEY = {}


def register_model(model):
    """Make a model known to the rules by its key; experiments call this for models outside `models`."""
    key = model_key(model)
    if MODEL_OF_KEY.setdefault(key, model) != model:
        raise WorkflowError(f"models '{MODEL_OF_KEY[key]}' and '{model}' share the directory name '{key}'")
    return key


for _model in MODELS:
    register_model(_model)


def model_source(model):
    """What from_pretrained loads for a model: config model_paths.<model>, else its name."""
    return (config.get("model_paths") or {}).get(model, model)


def lr_key(lr):
    """A learning rate's spelling in paths: Python's shortest round-trip repr (1e-05, 0.0003), which
    float() reads back exactly; independent of how tables display it."""
    return repr(float(lr))


def lr_grid(model, task, method):
    """The learning rates first searched for (model, task, method): the method's grid, then the last
    matching override. The §4 rule may extend it (see select.smk)."""
    grid = configured_grid(config["learning_rates"], model, task, method)
    keys = [lr_key(lr) for lr in grid]
    if len(set(keys)) != len(keys):
        raise WorkflowError(f"learning-rate grid of ({model}, {task}, {method}) repeats a value: {grid}")
    return grid


def batch_size(task):
    return int((TRAINING.get("batch_size_per_task") or {}).get(task, TRAINING.get("batch_size", 32)))


# ---------------------------------------------------------------------------------------------------
# Settings: what besides (model, task, method, lr, seed) defines a run: its method's options, resolved by the
# method (every default spelt out) and named by it (`blocks2-11_sparsity0.05` for masking, `full` for a
# method without options). The setting is part of the run's path, so one training job serves every
# experiment that needs that point; the train job reads its options back from SETTINGS.
# ---------------------------------------------------------------------------------------------------
SETTINGS = {}


def setting_of(model, method, options):
    """Register the (already resolved) options of a run of `method`; the setting's path component."""
    name = get_method(method).setting_name(options)
    if SETTINGS.setdefault((method, name), options) != options:
        raise WorkflowError(f"method {method}: setting {name} names two option sets: {SETTINGS[(method, name)]}, {options}")
    return name


def main_setting(model, method):
    """The main grid's setting of a (model, method): config method_options, then method_options_by_model."""
    return setting_of(model, method, configured_options(config, model, method))


def setting_params(w):
    """The options of the run at wildcards w (a train, select or ensemble job's param)."""
    return SETTINGS[(w.method, w.setting)]


def sweep_setting(model, method, **options):
    """The setting of a sweep point: the main grid's options of (model, method) with `options` replaced."""
    return setting_of(model, method, setting_options(config, model, method, options))


def point_setting(point):
    """A sweep point's setting (reproduction.sweeps' Point or Group): masking at the point's blocks and
    initial sparsity, another method at its main-grid setting."""
    if point.method != "masking":
        return main_setting(point.model, point.method)
    return sweep_setting(
        point.model, "masking", masked_blocks=point.masked_blocks, initial_sparsity=point.initial_sparsity
    )


# Selections: per (model key, task, method, setting), the seeds and the initial learning-rate grid.
SELECTIONS = {}


def register_selection(model, task, method, setting, lrs=None, seeds=None):
    """Declare that (model, task, method, setting) gets a learning rate selected on dev; experiments that
    reuse a point must agree on its seeds and initial grid."""
    key = (register_model(model), task, method, setting)
    entry = {"lrs": sorted(float(lr) for lr in (lrs or lr_grid(model, task, method))),
             "seeds": [int(s) for s in (seeds or SEEDS)]}
    if SELECTIONS.setdefault(key, entry) != entry:
        raise WorkflowError(f"selection {key} is requested with two grids or seed sets: {SELECTIONS[key]}, {entry}")
    return key


MAIN_GROUPS = []
for _model in MODELS:
    for _task in TASKS:
        for _method in METHODS:
            _setting = main_setting(_model, _method)
            register_selection(_model, _task, _method, _setting)
            MAIN_GROUPS.append({"model": model_key(_model), "task": _task, "method": _method, "setting": _setting})


_LOCAL_FINGERPRINTS = {}


def local_fingerprint(task):
    """A cheap fingerprint of the task's local copy, (relative path, size, mtime_ns) of every file under it,
    so that editing a local file changes prepare_data's params and Snakemake redoes the tokenization.
    None for hub and synthetic sources and for a path that does not exist (yet)."""
    if task not in _LOCAL_FINGERPRINTS:
        _LOCAL_FINGERPRINTS[task] = _local_fingerprint(task)
    return _LOCAL_FINGERPRINTS[task]


def _local_fingerprint(task):
    import hashlib
    import os

    from maskbert.data.readers import task_dir

    source = source_of(task)
    if source["source"] != "local" or not source["path"] or not Path(source["path"]).exists():
        return None
    folder = task_dir(get_task(task), Path(source["path"]))
    files = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for path in files:
        stat = os.stat(path)
        rel = path.name if path == folder else path.relative_to(folder).as_posix()
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return f"{len(files)} files, sha256 {digest.hexdigest()[:16]}"


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
    method="|".join(METHODS),
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
    if group not in SELECTIONS:
        raise WorkflowError(f"no experiment selects a learning rate for {group}")
    return SELECTIONS[group]


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
    """The summaries of every model's selected main-grid masking runs, one named list per model (m0, m1...)."""
    return {f"m{i}": [path for task in TASKS
                      for path in selected_run_files(model, task, "masking", main_setting(model, "masking"),
                                                     ("summary.json",))]
            for i, model in enumerate(MODELS)}


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
