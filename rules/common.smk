# Shared by every stage: config validation, the experiment grid, output paths and input functions.

from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

from maskbert.data import get_task
from reproduction.report import fmt_lr

WORKFLOW_DIR = Path(workflow.basedir)


# ---------------------------------------------------------------------------------------------------
# Config: YAML reads "1e-5" (no dot) as a string; accept it as the number it means, then validate.
# ---------------------------------------------------------------------------------------------------
def _as_float(value):
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _coerce_learning_rates(cfg):
    lrs = cfg.get("learning_rates")
    if not isinstance(lrs, dict):
        return
    for method in ("masking", "finetuning"):
        if isinstance(lrs.get(method), list):
            lrs[method] = [_as_float(v) for v in lrs[method]]
    for override in lrs.get("overrides") or []:
        if isinstance(override, dict) and isinstance(override.get("values"), list):
            override["values"] = [_as_float(v) for v in override["values"]]
    training = cfg.get("training")
    if isinstance(training, dict) and "initial_sparsity" in training:
        training["initial_sparsity"] = _as_float(training["initial_sparsity"])


def _config_key(path):
    return ".".join(str(p) for p in path) or "<top level>"


def validate_config(cfg):
    """Validate against schemas/config.schema.yaml; on error, name the offending key first."""
    import jsonschema
    import yaml

    _coerce_learning_rates(cfg)
    schema_path = WORKFLOW_DIR / "schemas" / "config.schema.yaml"
    schema = yaml.safe_load(schema_path.read_text())
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
    for method in cfg["methods"]:
        if method not in cfg["learning_rates"]:
            problems.append(f"config key 'learning_rates.{method}': a grid is needed for method '{method}'")
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
# The grid
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


def model_key(model):
    """A model's directory name in results/ (the last part of a hub id)."""
    return model.split("/")[-1]


MODEL_OF_KEY = {model_key(m): m for m in MODELS}
if len(MODEL_OF_KEY) != len(MODELS):
    raise WorkflowError("config key 'models': two models share the same last path component")


def model_source(model):
    """What from_pretrained loads for a model: config model_paths.<model>, else its name."""
    return (config.get("model_paths") or {}).get(model, model)


def lr_str(lr):
    """Canonical spelling of a learning rate in paths, as the tables print it: 5e-5, 1e-3, 2.5e-5."""
    return fmt_lr(lr)


_LR_GRIDS = {}


def lr_grid(model, task, method):
    """The learning rates searched for (model, task, method): the method's grid, then matching overrides."""
    key = (model, task, method)
    if key not in _LR_GRIDS:
        _LR_GRIDS[key] = _lr_grid(model, task, method)
    return _LR_GRIDS[key]


def _lr_grid(model, task, method):
    lrs = config["learning_rates"]
    grid = list(lrs[method])
    for override in lrs.get("overrides") or []:
        if all(override.get(k) in (None, v) for k, v in (("model", model), ("task", task), ("method", method))):
            grid = list(override["values"])
    strs = [lr_str(lr) for lr in grid]
    if len(set(strs)) != len(strs):
        raise WorkflowError(f"learning-rate grid of ({model}, {task}, {method}) repeats a value: {grid}")
    return strs


def batch_size(task):
    return int((TRAINING.get("batch_size_per_task") or {}).get(task, TRAINING.get("batch_size", 32)))


def masked_blocks(model):
    """Blocks to mask, e.g. "2-11"; None lets the library use the family default."""
    return (TRAINING.get("masked_blocks") or {}).get(model)


MODEL_SOURCE = {model_key(m): model_source(m) for m in MODELS}
BATCH_SIZE = {t: batch_size(t) for t in TASKS}
MASKED_BLOCKS = {model_key(m): masked_blocks(m) for m in MODELS}
INITIAL_SPARSITY = float(TRAINING.get("initial_sparsity", 0.05))
THREADS_TRAIN = int((config.get("threads") or {}).get("train", 1))
THREADS_EVALUATE = int((config.get("threads") or {}).get("evaluate", 1))


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
GROUPS = [(m, t, meth) for m in MODELS for t in TASKS for meth in METHODS]

# ---------------------------------------------------------------------------------------------------
# Output layout (every path under RESULTS; later analyses add their own folders beside these)
# ---------------------------------------------------------------------------------------------------
DATA_DIR = f"{RESULTS}/data/{{model}}/{{task}}"
RUN_DIR = f"{RESULTS}/runs/{{model}}/{{task}}/{{method}}/lr{{lr}}/seed{{seed}}"
RUN_SUMMARY = f"{RUN_DIR}/summary.json"
SELECT_JSON = f"{RESULTS}/select/{{model}}/{{task}}/{{method}}.json"
TEST_DIR = f"{RESULTS}/test/{{model}}/{{task}}/{{method}}/seed{{seed}}"
ENSEMBLE_JSON = f"{RESULTS}/ensemble/{{model}}/{{task}}/{{method}}.json"
TABLES = f"{RESULTS}/tables"
FIGURES = f"{RESULTS}/figures"
LOGS = f"{RESULTS}/logs"
PAPER_RESULTS = str(WORKFLOW_DIR / "resources" / "paper_results.csv")
CONDA_ENV = "envs/maskbert.yaml"  # relative to rules/; used with --sdm conda
TABLE_FORMATS = ("csv", "md", "tex")
FIGURE_FORMATS = ("png", "pdf")


wildcard_constraints:
    model="[^/]+",
    task="[a-z0-9-]+",
    method="masking|finetuning",
    seed="[0-9]+",
    lr="[0-9.]+e-?[0-9]+",


# ---------------------------------------------------------------------------------------------------
# Input functions
# ---------------------------------------------------------------------------------------------------
def run_summaries(w):
    """summary.json of every (seed, lr) run of one (model, task, method)."""
    model = MODEL_OF_KEY[w.model]
    return [
        RUN_SUMMARY.format(model=w.model, task=w.task, method=w.method, lr=lr, seed=seed)
        for lr in lr_grid(model, w.task, w.method)
        for seed in SEEDS
    ]


def group_paths(template, tasks=None, **fixed):
    """`template` filled for every configured (model, task, method)."""
    tasks = TASKS if tasks is None else tasks
    return [
        template.format(model=model_key(m), task=t, method=meth, **fixed)
        for m in MODELS
        for t in tasks
        for meth in METHODS
    ]


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

