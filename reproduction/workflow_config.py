"""The workflow's config, checked before any job is planned: schema validation with string values coerced to
the schema's types, what the schema cannot say (task capabilities, method options), and the small lookups
the rules share (a task's data source, a model's directory name, a learning rate's spelling in paths).

No Snakemake here: rules/common.smk calls these (it turns the problems into one WorkflowError and the
warnings into log lines), and the tests call them on plain dicts.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path

import jsonschema
import yaml

from maskbert.data import get_task
from maskbert.data.readers import task_dir
from maskbert.methods import METHODS
from maskbert.methods.options import OptionError, text_value
from reproduction.grid import configured_options, model_blocks
from reproduction.sweeps import SWEEPS, canonical_blocks

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"
SCHEMA_KINDS = {"integer": "int", "number": "float", "boolean": "bool"}  # schema type -> option kind
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it


class ConfigError(ValueError):
    """A config the workflow refuses: one line per problem, each naming the config key."""

    def __init__(self, title: str, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__(title + ":\n" + "\n".join(f"  {p}" for p in self.problems))


# ------------------------------------------------------------------------------------------------------
# Schema
# ------------------------------------------------------------------------------------------------------
def import_method_modules(modules: Iterable[str]) -> None:
    """Import each module (it registers its methods with maskbert.methods.register); a failure names it."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as error:  # whatever the module raises on import: named with the key and the module
            text = (str(error).strip() or type(error).__name__).splitlines()[0]
            raise ValueError(
                f"config key 'method_modules': cannot import '{name}': {type(error).__name__}: {text}"
            ) from None


@cache
def _schema_file() -> dict:
    return yaml.load(SCHEMA.read_text(), Loader=_YAML_LOADER)


def config_schema(method_modules: Iterable[str] = ()) -> dict:
    """schemas/config.schema.yaml with its method enum filled from the registry (after importing
    `method_modules`), so that the schema and the registry cannot disagree."""
    import_method_modules(method_modules)
    schema = _schema_file()
    return {
        **schema,
        "$defs": {**schema["$defs"], "method": {**schema["$defs"]["method"], "enum": list(METHODS)}},
    }


def _resolve_ref(node, schema: Mapping) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node if isinstance(node, dict) else {}


def _from_string(text: str, kind: str | None):
    """Text as the schema type `kind` by the options' own reader (the same spellings everywhere); text
    that does not read as it stays text, for the schema to refuse naming the key."""
    if kind not in SCHEMA_KINDS:
        return text
    try:
        return text_value(text, SCHEMA_KINDS[kind])
    except ValueError:
        return text


def coerce_to_schema(value, node: Mapping, schema: Mapping):
    """`value` with its string leaves converted to the integer / number / boolean its schema node asks for.

    Values arrive as strings from YAML ("1e-5" has no dot) and from `--config` (Snakemake 9 hands values
    nested in lists and mappings over as strings); what does not convert stays a string, and the schema then
    refuses it, naming the key."""
    node = _resolve_ref(node, schema)
    if isinstance(value, str):
        return _from_string(value, node.get("type"))
    if isinstance(value, dict):
        properties = node.get("properties", {})
        extra = node.get("additionalProperties")
        return {
            k: coerce_to_schema(v, properties.get(k, extra if isinstance(extra, dict) else {}), schema)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [coerce_to_schema(v, node.get("items", {}), schema) for v in value]
    return value


def config_key(path: Iterable) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def validate_config(cfg: dict) -> list[str]:
    """Coerce `cfg` in place to the schema's types, validate it against the schema, then check what the
    schema cannot say. Raises ConfigError naming every offending key; returns the warnings (one line each)."""
    schema = config_schema(cfg.get("method_modules") or [])
    cfg.update(coerce_to_schema(dict(cfg), schema, schema))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(cfg), key=lambda e: list(e.path))
    if errors:
        raise ConfigError(
            "Invalid config (schemas/config.schema.yaml)",
            [f"config key '{config_key(e.absolute_path)}': {e.message}" for e in errors],
        )
    problems, warnings = check_semantics(cfg)
    if problems:
        raise ConfigError("Invalid config", problems)
    return warnings


# ------------------------------------------------------------------------------------------------------
# What the schema cannot say
# ------------------------------------------------------------------------------------------------------
def check_semantics(cfg: Mapping) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a schema-valid config: task capabilities from the registry, data sources,
    learning-rate grids and each method's options on each model; one line each, naming the config key."""
    problems, warnings = [], []
    for task in cfg["tasks"]:
        spec = get_task(task)
        if "dev" not in spec.splits:
            problems.append(
                f"config key 'tasks': task '{task}' has no dev split to select a learning rate on"
            )
        source = source_of(cfg, task)
        if source["source"] == "local" and not source["path"]:
            warnings.append(
                f"config key 'data.sources.{task}': task '{task}' is read from local files only; "
                f"set data.sources.{task}.path before its data job runs"
            )
        elif source["source"] == "local" and not Path(source["path"]).exists():
            # A warning, not an error: dry runs and other targets still work; the data job then fails
            # with the data layer's one-line error naming the directory.
            warnings.append(
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
            warnings.append(
                f"config key 'learning_rates.overrides.{i}': method {override['method']} is not run"
            )
    comparison = cfg.get("comparison") or {}
    pairs = [(model, method) for model in cfg["models"] for method in cfg["methods"]]
    pairs += [
        (model, method) for model in comparison.get("models", []) for method in comparison.get("methods", [])
    ]
    for task in comparison.get("tasks", []):
        if "dev" not in get_task(task).splits:
            problems.append(
                f"config key 'comparison.tasks': task '{task}' has no dev split to select a learning rate on"
            )
    for method in dict.fromkeys(method for _, method in pairs):
        if method not in cfg["learning_rates"]:
            problems.append(f"config key 'learning_rates.{method}': a grid is needed for method '{method}'")
    for model, method in dict.fromkeys(pairs):
        try:
            configured_options(cfg, model, method, check=True)
        except (ValueError, FileNotFoundError) as error:
            by_model = method in ((cfg.get("method_options_by_model") or {}).get(model) or {})
            key = f"method_options_by_model.{model}.{method}" if by_model else f"method_options.{method}"
            if isinstance(error, OptionError):
                problems.append(f"{error.in_config(key)} (model {model})")
            else:
                problems.append(f"config key '{key}' (model {model}): {error}")
    return problems, warnings


def check_sweep_config(cfg: Mapping) -> list[str]:
    """Problems of the ``sweeps:`` section, one line each naming the config key; [] when it is valid.

    Checked before any job runs: a model's config.json must be readable (its number of blocks); a task must
    exist and have a dev split; a sparsity must lie in (0, 1) and appear once; a block set must lie inside
    every sweep model's blocks, be non-empty and appear once (after canonical spelling: '2-5,6-11' is
    '2-11'); the layer-wise sweep needs the masking learning-rate grid (its selection) and the finetuning
    grid (Table 7's finetuning row).
    """
    sweeps = cfg.get("sweeps") or {}
    problems = []
    for sweep, section in sweeps.items():
        key = f"sweeps.{sweep}"
        if section is None:  # left out
            continue
        if sweep not in SWEEPS:
            problems.append(f"config key '{key}': unknown sweep; expected one of {', '.join(SWEEPS)}")
            continue
        blocks_of = {}
        for i, model in enumerate(section.get("models") or []):
            try:
                blocks_of[model] = model_blocks(cfg, model)
            except (OSError, ValueError, KeyError) as error:
                problems.append(
                    f"config key '{key}.models.{i}': cannot read the config of '{model}' ({error})"
                )
        for i, task in enumerate(section.get("tasks") or []):
            try:
                spec = get_task(task)
            except (KeyError, ValueError) as error:
                problems.append(f"config key '{key}.tasks.{i}': unknown task '{task}' ({error})")
                continue
            if "dev" not in spec.splits:
                problems.append(f"config key '{key}.tasks.{i}': task '{task}' has no dev split")
        seen = set()
        for i, value in enumerate(section.get("sparsities") or []):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
                problems.append(
                    f"config key '{key}.sparsities.{i}': {value!r} is not a fraction strictly between 0 and 1"
                )
            elif float(value) in seen:
                problems.append(f"config key '{key}.sparsities.{i}': {value} appears twice")
            else:
                seen.add(float(value))
        if sweep == "initial_sparsity":
            lr = section.get("learning_rate")
            if lr is not None and (not isinstance(lr, (int, float)) or not 0 < lr <= 1):
                problems.append(f"config key '{key}.learning_rate': {lr!r} is not a learning rate in (0, 1]")
        if sweep == "layerwise":
            problems += _check_block_sets(key, section.get("block_sets") or [], blocks_of)
            for method in ("masking", "finetuning"):
                if method not in (cfg.get("learning_rates") or {}):
                    problems.append(
                        f"config key 'learning_rates.{method}': the layer-wise sweep (Table 7) "
                        f"needs the {method} grid"
                    )
    return problems


def _check_block_sets(key: str, block_sets: Sequence[str], blocks_of: Mapping[str, int]) -> list[str]:
    """Each block set against each model's number of blocks; empty and repeated sets."""
    problems, seen = [], {}
    for model, n in blocks_of.items():
        for i, spec in enumerate(block_sets):
            try:
                canonical = canonical_blocks(str(spec), n)
            except ValueError as error:
                problems.append(
                    f"config key '{key}.block_sets.{i}': '{spec}' for {model} "
                    f"({n} blocks, 0-{n - 1}): {error}"
                )
                continue
            if canonical == "none":
                problems.append(f"config key '{key}.block_sets.{i}': '{spec}' masks no block")
            elif seen.setdefault((model, canonical), i) != i:
                problems.append(
                    f"config key '{key}.block_sets.{i}': '{spec}' is block set "
                    f"{seen[model, canonical]} again ({canonical})"
                )
    return problems


ANALYSES = ("table3", "figure4", "figure5", "figure6", "figure7")


def narrow_analyses(cfg: Mapping) -> tuple[list[str], list[str], list[str]]:
    """(problems, warnings, analyses left out) of the ``analyses:`` section, which it narrows in place.

    The analyses read runs of the main grid and train none: models, tasks and seeds outside the grid (a
    narrower `models`, `tasks` or `seeds`, e.g. a quick --config) are left out with a warning naming the key,
    and an analysis left with nothing to read (or without both methods, but Figure 5) is left out. Impossible
    requests are problems naming the key. Figure 4's `task` and Figure 5's `model` become one-item lists
    (`tasks`, `models`) like the other sections'."""
    sections = cfg["analyses"]
    t3, f4, f5 = sections["table3"], sections["figure4"], sections["figure5"]
    grid = {
        "models": list(cfg["models"]),
        "tasks": list(cfg["tasks"]),
        "seeds": [int(s) for s in cfg["seeds"]],
    }
    problems, warnings, left_out = [], [], []
    for task in (*t3["eval_tasks"], *(t["eval_task"] for t in t3.get("transfer") or [])):
        if get_task(task).metric != "accuracy" or get_task(task).kind != "single":
            problems.append(f"config key 'analyses.table3': task {task!r} is not a single-text accuracy task")
    for transfer in t3.get("transfer") or []:
        if transfer["train_task"] not in t3["train_tasks"]:
            problems.append(
                f"config key 'analyses.table3.transfer': train_task {transfer['train_task']!r} is not "
                f"one of analyses.table3.train_tasks {t3['train_tasks']}"
            )
    if get_task(f4["task"]).kind not in ("single", "pair"):
        problems.append(
            f"config key 'analyses.figure4.task': {f4['task']!r} is a {get_task(f4['task']).kind} task; "
            "Figure 4 needs one [CLS] vector and one label per example (single or pair)"
        )
    if problems:
        return problems, warnings, left_out

    def within(section, key, kind, name):
        kept = [v for v in section[key] if v in grid[kind]]
        if len(kept) != len(section[key]):
            warnings.append(
                f"config key 'analyses.{name}.{key}': {[v for v in section[key] if v not in kept]} "
                f"not in the main grid's {kind}; the analysis leaves them out"
            )
        section[key] = kept
        return kept

    f4["tasks"] = [f4["task"]]
    f5["models"] = [f5["model"]]
    both_methods = {"masking", "finetuning"} <= set(cfg["methods"])
    for name in ANALYSES:
        section = sections[name]
        tasks_key = "train_tasks" if name == "table3" else "tasks"
        kept = [within(section, "models", "models", name), within(section, tasks_key, "tasks", name)]
        if "seeds" in section:
            kept.append(within(section, "seeds", "seeds", name))
        if not (all(kept) and (both_methods or name == "figure5")):
            warnings.append(
                f"config key 'analyses.{name}': nothing of the main grid to read (or not both methods); "
                f"{name} is left out of the tables target"
            )
            left_out.append(name)
    t3["transfer"] = [t for t in t3.get("transfer") or [] if t["train_task"] in t3["train_tasks"]]
    return problems, warnings, left_out


# ------------------------------------------------------------------------------------------------------
# Lookups the rules share
# ------------------------------------------------------------------------------------------------------
def source_of(cfg: Mapping, task: str) -> dict:
    """{"source", "path"} for a task: data.sources.<task>, else hub (or the task's only source)."""
    entry = ((cfg.get("data") or {}).get("sources") or {}).get(task)
    if entry:
        return {"source": entry["source"], "path": entry.get("path")}
    spec = get_task(task)
    return {"source": "hub" if "hub" in spec.sources else spec.sources[0], "path": None}


def local_fingerprint(cfg: Mapping, task: str) -> str | None:
    """A cheap fingerprint of the task's local copy, (relative path, size, mtime_ns) of every file under it,
    so that editing a local file changes prepare_data's params and Snakemake redoes the tokenization.
    None for hub and synthetic sources and for a path that does not exist (yet)."""
    source = source_of(cfg, task)
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


def batch_size(cfg: Mapping, task: str) -> int:
    """training.batch_size_per_task.<task>, else training.batch_size (32)."""
    training = cfg.get("training") or {}
    return int((training.get("batch_size_per_task") or {}).get(task, training.get("batch_size", 32)))
