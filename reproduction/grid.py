"""The experiment grid's method settings, read from the workflow's config (one place for the workflow,
the sweeps and the cost estimate).

A run's setting is its method's options, resolved by the method for the run's model (every default spelt
out, so two spellings of one setting are one run). The config gives them per method (`method_options`)
and per model (`method_options_by_model`); methods defined outside maskbert are registered by importing
the modules `method_modules` names.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from maskbert.methods import METHODS, get_method

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


def import_method_modules(modules: Iterable[str]) -> None:
    """Import each module (it registers its methods with maskbert.methods.register); a failure names it."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise ValueError(f"config key 'method_modules': cannot import '{name}': {error}") from None


def model_path(cfg: Mapping, model: str) -> str:
    """What from_pretrained loads for a configured model: config model_paths.<model>, else its name."""
    return (cfg.get("model_paths") or {}).get(model, model)


def given_options(cfg: Mapping, model: str, method: str) -> dict:
    """The options the config gives (model, method): method_options.<method>, then the model's own."""
    by_model = ((cfg.get("method_options_by_model") or {}).get(model) or {}).get(method) or {}
    return {**((cfg.get("method_options") or {}).get(method) or {}), **by_model}


def configured_options(cfg: Mapping, model: str, method: str, check: bool = False) -> dict:
    """The main grid's resolved options of (model, method); `check` also asks the method whether they can
    work on the model (before any job runs). A ValueError names the option at fault."""
    resolved = get_method(method).resolve_options(given_options(cfg, model, method), model_path(cfg, model))
    if check:
        get_method(method).check_options(resolved, model_path(cfg, model))
    return resolved


def setting_options(cfg: Mapping, model: str, method: str, replaced: Mapping) -> dict:
    """A sweep point's resolved options: the main grid's of (model, method) with `replaced` put in."""
    given = {**given_options(cfg, model, method), **replaced}
    return get_method(method).resolve_options(given, model_path(cfg, model))


def config_schema(method_modules: Iterable[str] = ()) -> dict:
    """schemas/config.schema.yaml with its method enum filled from the registry (after importing
    `method_modules`), so that the schema and the registry cannot disagree."""
    import_method_modules(method_modules)
    schema = yaml.safe_load(SCHEMA.read_text())
    schema["$defs"]["method"]["enum"] = list(METHODS)
    return schema
