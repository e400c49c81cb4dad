"""The experiment grid, read from the workflow's config: every run's setting, every training point and
learning-rate selection of the main grid, the §5 sweeps and the methods comparison, and every job of the
§6 / App. B analyses, enumerated once (for the workflow, the tests and the cost estimate).

A run's setting is its method's options, resolved by the method for the run's model (every default spelt
out, so two spellings of one setting are one run) and named by it (`blocks2-11_sparsity0.05`, `full`): the
name is part of the run's path, so one training job serves every experiment that needs its point. The
config gives the options per method (`method_options`) and per model (`method_options_by_model`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass

from maskbert.methods import get_method
from maskbert.pretrained import num_blocks_of
from reproduction.selection import configured_grid
from reproduction.sweeps import all_blocks, canonical_blocks


def model_path(cfg: Mapping, model: str) -> str:
    """What from_pretrained loads for a configured model: config model_paths.<model>, else its name."""
    return (cfg.get("model_paths") or {}).get(model, model)


def model_blocks(cfg: Mapping, model: str) -> int:
    """Transformer blocks of a configured model: of its local copy when ``model_paths`` names one."""
    return num_blocks_of(model_path(cfg, model))


def model_key(model: str) -> str:
    """A model's directory name in results/ (the last part of a hub id)."""
    return model.split("/")[-1]


def lr_key(lr: float) -> str:
    """A learning rate's spelling in paths: Python's shortest round-trip repr (1e-05, 0.0003), which
    float() reads back exactly; independent of how tables display it."""
    return repr(float(lr))


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


@dataclass(frozen=True)
class Group:
    """A (model, task, method, setting) whose learning rate is selected on the mean dev score over seeds."""

    model: str
    task: str
    method: str
    setting: str


@dataclass(frozen=True)
class AnalysisJob:
    """One job of a §6 / App. B analysis that reads the main grid's selected runs: Table 3's evaluation per
    (model, training task, method), Figure 5's per model (every task and seed), Figures 4, 6 and 7's per
    (model, task, seed). ``groups`` are the selections it reads."""

    analysis: str
    model: str
    task: str | None
    method: str | None
    seed: int | None
    groups: tuple[Group, ...]


@dataclass(frozen=True)
class Point:
    """One training run's identity: the same Point is one run, whichever experiment asks for it."""

    model: str
    task: str
    method: str
    setting: str
    lr: float
    seed: int


class Grid:
    """Every setting, selection, training point and analysis job of a (validated) config.

    ``settings``: {(method, setting name): resolved options}; ``selections``: {(model key, task, method,
    setting): {"lrs": initial grid, "seeds"}}; ``models``: {model key: model}. ``main``, ``layerwise`` and
    ``comparison`` list their selections (Table 7's order: masking per model, block set, sparsity and task,
    then finetuning per model and task), ``figure1`` its fixed-rate runs. ``analysis_sections`` is the
    config's ``analyses`` narrowed to the main grid (a copy; ``analysis_warnings`` name what was left out),
    ``analyses`` {analysis: its jobs} of those left with something to read. A point two experiments share
    is one selection and one job.
    """

    def __init__(self, cfg: Mapping):
        self.cfg = cfg
        self.seeds = [int(s) for s in cfg["seeds"]]
        self.settings: dict[tuple[str, str], dict] = {}
        self.selections: dict[tuple[str, str, str, str], dict] = {}
        self.models: dict[str, str] = {}
        self._resolved: dict[tuple, dict] = {}
        self.main = [
            self.add_selection(model, task, method, self.setting(model, method))
            for model in cfg["models"]
            for task in cfg["tasks"]
            for method in cfg["methods"]
        ]
        sweeps = cfg.get("sweeps") or {}
        self.layerwise = self._layerwise(sweeps.get("layerwise"))
        self.figure1 = self._figure1(sweeps.get("initial_sparsity"))
        self.comparison = self._comparison(cfg.get("comparison"))
        self.analysis_sections: dict = {}
        self.analysis_warnings: list[str] = []
        self.analyses = self._analyses(cfg.get("analyses"))

    # -- settings ---------------------------------------------------------------------------------------
    def setting(self, model: str, method: str, replaced: Mapping | None = None) -> str:
        """The setting of (model, method): the main grid's options with `replaced` put in, registered."""
        key = (model, method, tuple(sorted((replaced or {}).items())))
        if key not in self._resolved:  # resolving reads the model's config: once per distinct request
            self._resolved[key] = (
                setting_options(self.cfg, model, method, replaced)
                if replaced
                else configured_options(self.cfg, model, method)
            )
        return self.register_setting(method, self._resolved[key])

    def register_setting(self, method: str, options: Mapping) -> str:
        """The setting name of (already resolved) options of `method`; two option sets under one name fail."""
        name = get_method(method).setting_name(options)
        if self.settings.setdefault((method, name), dict(options)) != options:
            raise ValueError(
                f"method {method}: setting {name} names two option sets: {self.settings[(method, name)]}, "
                f"{dict(options)}"
            )
        return name

    def options(self, method: str, setting: str) -> dict:
        return self.settings[(method, setting)]

    def main_group(self, model: str, task: str, method: str) -> Group:
        """The main grid's selection of (model, task, method), at its main setting."""
        return Group(model, task, method, self.setting(model, method))

    # -- selections -------------------------------------------------------------------------------------
    def register_model(self, model: str) -> str:
        """A model's key, registered; two models with one directory name fail."""
        key = model_key(model)
        if self.models.setdefault(key, model) != model:
            raise ValueError(f"models '{self.models[key]}' and '{model}' share the directory name '{key}'")
        return key

    def lr_grid(self, model: str, task: str, method: str) -> list[float]:
        """The learning rates first searched for (model, task, method): the method's grid, then the last
        matching override. The §4 rule may extend it (rules/select.smk)."""
        grid = configured_grid(self.cfg["learning_rates"], model, task, method)
        if len({lr_key(lr) for lr in grid}) != len(grid):
            raise ValueError(f"learning-rate grid of ({model}, {task}, {method}) repeats a value: {grid}")
        return grid

    def add_selection(self, model, task, method, setting, lrs=None, seeds=None) -> Group:
        """Declare that (model, task, method, setting) gets a learning rate selected on dev; experiments that
        reuse a point must agree on its seeds and initial grid."""
        key = (self.register_model(model), task, method, setting)
        entry = {
            "lrs": sorted(float(lr) for lr in (lrs or self.lr_grid(model, task, method))),
            "seeds": [int(s) for s in (seeds or self.seeds)],
        }
        if self.selections.setdefault(key, entry) != entry:
            raise ValueError(
                f"selection {key} is requested with two grids or seed sets: {self.selections[key]}, {entry}"
            )
        return Group(model, task, method, setting)

    # -- the sweeps -------------------------------------------------------------------------------------
    def _layerwise(self, section: Mapping | None) -> list[Group]:
        if not section:
            return []
        masking = [
            self.add_selection(model, task, "masking", setting)
            for model in section["models"]
            for blocks in section["block_sets"]
            for sparsity in section["sparsities"]
            for setting in [self._masking_setting(model, blocks, sparsity)]
            for task in section["tasks"]
        ]
        finetuning = [
            self.add_selection(model, task, "finetuning", self.setting(model, "finetuning"))
            for model in section["models"]
            for task in section["tasks"]
        ]
        return masking + finetuning

    def _figure1(self, section: Mapping | None) -> list[Point]:
        if not section:
            return []
        seeds = [int(s) for s in (section.get("seeds") or self.seeds)]
        points = []
        for model in section["models"]:
            self.register_model(model)
            blocks = all_blocks(model_blocks(self.cfg, model))
            for sparsity in section["sparsities"]:
                setting = self._masking_setting(model, blocks, sparsity)
                points += [
                    Point(model, task, "masking", setting, float(section["learning_rate"]), seed)
                    for task in section["tasks"]
                    for seed in seeds
                ]
        return points

    def _masking_setting(self, model: str, blocks: str, sparsity: float) -> str:
        canonical = canonical_blocks(str(blocks), model_blocks(self.cfg, model))
        return self.setting(
            model, "masking", {"masked_blocks": canonical, "initial_sparsity": float(sparsity)}
        )

    # -- the methods comparison and the analyses ------------------------------------------------------
    def _comparison(self, section: Mapping | None) -> list[Group]:
        """Every compared (model, task, method) at the method's main setting, its grid and the main seeds:
        a point the main grid has is the same selection."""
        if not section:
            return []
        return [
            self.add_selection(model, task, method, self.setting(model, method))
            for model in section["models"]
            for task in section["tasks"]
            for method in section["methods"]
        ]

    def _analyses(self, section: Mapping | None) -> dict[str, list[AnalysisJob]]:
        """The jobs of each analysis, which read main-grid selections only: the section is narrowed to the
        main grid first, and an analysis left with nothing to read has no jobs."""
        if not section:
            return {}
        from reproduction.workflow_config import narrow_analyses  # here: workflow_config imports this module

        narrowed = {**self.cfg, "analyses": copy.deepcopy(dict(section))}
        problems, self.analysis_warnings, left_out = narrow_analyses(narrowed)
        if problems:
            raise ValueError("Invalid config:\n" + "\n".join(f"  {p}" for p in problems))
        sections = self.analysis_sections = narrowed["analyses"]
        pair = ("finetuning", "masking")
        jobs = {}
        t3 = sections["table3"]
        jobs["table3"] = [
            AnalysisJob("table3", model, task, method, None, (self.main_group(model, task, method),))
            for model in t3["models"]
            for task in t3["train_tasks"]
            for method in ("masking", "finetuning")
        ]
        f5 = sections["figure5"]
        jobs["figure5"] = [
            AnalysisJob(
                "figure5",
                model,
                None,
                "masking",
                None,
                tuple(self.main_group(model, task, "masking") for task in f5["tasks"]),
            )
            for model in f5["models"]
        ]
        for name in ("figure4", "figure6", "figure7"):
            section = sections[name]
            jobs[name] = [
                AnalysisJob(
                    name,
                    model,
                    task,
                    None,
                    int(seed),
                    tuple(self.main_group(model, task, method) for method in pair),
                )
                for model in section["models"]
                for task in section["tasks"]
                for seed in section["seeds"]
            ]
        return {name: its_jobs for name, its_jobs in jobs.items() if name not in left_out}

    # -- training points --------------------------------------------------------------------------------
    def group_points(self, groups: Sequence[Group]) -> list[Point]:
        """Every run of round 0 of the selections `groups`: their initial grids, all their seeds (the §4
        border rule may extend a grid when it runs; those runs are not counted here)."""
        points = []
        for g in groups:
            selection = self.selections[(model_key(g.model), g.task, g.method, g.setting)]
            points += [
                Point(g.model, g.task, g.method, g.setting, lr, seed)
                for lr in selection["lrs"]
                for seed in selection["seeds"]
            ]
        return points

    def points(self) -> dict[str, list[Point]]:
        """Every training point of each experiment: ``main`` (the §4 grid), then ``layerwise``,
        ``initial_sparsity``, ``comparison`` and ``analyses`` (the runs the analyses read) when configured.
        The same Point can appear under several experiments; :func:`new_points` counts what each adds."""
        points = {"main": self.group_points(self.main)}
        if self.layerwise:
            points["layerwise"] = self.group_points(self.layerwise)
        if self.figure1:
            points["initial_sparsity"] = list(self.figure1)
        if self.comparison:
            points["comparison"] = self.group_points(self.comparison)
        if self.analyses:
            read = {group for jobs in self.analyses.values() for job in jobs for group in job.groups}
            points["analyses"] = self.group_points(sorted(read, key=astuple))
        return points


def new_points(points: Mapping[str, Sequence[Point]]) -> dict[str, set[Point]]:
    """The points each experiment adds, in order (main grid first): points an earlier one has are free."""
    seen: set[Point] = set()
    added = {}
    for experiment, its_points in points.items():
        added[experiment] = set(its_points) - seen
        seen |= added[experiment]
    return added
