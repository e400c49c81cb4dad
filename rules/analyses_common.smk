# Config, paths and input functions of the §6 / App. B analyses (rules in analyses.smk, which includes this).

ANALYSES = config["analyses"]
ANALYSES_DIR = f"{RESULTS}/analyses"
ANALYSIS_BATCH = int(ANALYSES.get("batch_size", 64))
T3, F4, F5, F6, F7 = (ANALYSES[k] for k in ("table3", "figure4", "figure5", "figure6", "figure7"))
TABLE3_JSON = f"{ANALYSES_DIR}/table3/{{model}}/{{task}}/{{method}}.json"
FIGURE4_JSON = f"{ANALYSES_DIR}/figure4/{{model}}/{{task}}/seed{{seed}}.json"
FIGURE5_SCORES = f"{ANALYSES_DIR}/figure5/{model_key(F5['model'])}/scores.csv"
FIGURE6_JSON = f"{ANALYSES_DIR}/figure6/{{model}}/{{task}}/seed{{seed}}.json"
FIGURE7_JSON = f"{ANALYSES_DIR}/figure7/{{model}}/{{task}}/seed{{seed}}.json"
ANALYSIS_OUTPUTS = {
    "table3": table_files("table3_generalization"),
    "figure4": figure_files("figure4_tsne") + table_files("figure4_probe"),
    "figure5": figure_files("figure5_mask_dissimilarity") + table_files("figure5_mask_dissimilarity"),
    "figure6": figure_files("figure6_mode_connectivity") + table_files("figure6_mode_connectivity"),
    "figure7": figure_files("figure7_bezier") + table_files("figure7_bezier"),
}


# The analyses read runs of the main grid and train none: names outside it are left out with a warning naming
# the key, and an analysis left with nothing to read leaves the `tables` target (reproduction.workflow_config).
_analysis_problems, _analysis_warnings, _analyses_left_out = workflow_config.narrow_analyses(config)
if _analysis_problems:
    raise WorkflowError("Invalid config:\n" + "\n".join(f"  {p}" for p in _analysis_problems))
for _warning in _analysis_warnings:
    logger.warning(_warning)
for _name in _analyses_left_out:
    ANALYSIS_OUTPUTS.pop(_name)


def _selected(model, task, method, names=("run.json", "artifact")):
    """The selection JSON and the selected runs' files of (model, task, method) at the main setting."""
    setting = main_setting(model, method)
    return selection_file(model, task, method, setting), selected_run_files(model, task, method, setting, names)


def _pair_inputs(w):
    """Both methods' selections and selected runs of (model, task), and the task's data."""
    model = MODEL_OF_KEY[w.model]
    inputs = {"data": DATA_DIR.format(model=w.model, task=w.task)}
    for method in ("finetuning", "masking"):
        inputs[f"{method}_selection"], inputs[f"{method}_runs"] = _selected(model, w.task, method)
    return inputs


def _per_seed(template, section, tasks=None):
    return [template.format(model=model_key(m), task=t, seed=s) for m in section["models"]
            for t in (tasks or section["tasks"]) for s in section["seeds"]]


def table3_evaluations(task):
    """What a model trained on `task` is evaluated on: every eval task's dev set, then its transfers."""
    evaluations = [{"eval_task": t, "split": "dev"} for t in T3["eval_tasks"]]
    evaluations += [{"eval_task": t["eval_task"], "split": t["split"]} for t in T3.get("transfer") or []
                    if t["train_task"] == task]
    return evaluations


def _table3_inputs(w):
    selection, runs = _selected(MODEL_OF_KEY[w.model], w.task, w.method)
    data = [DATA_DIR.format(model=w.model, task=e["eval_task"]) for e in table3_evaluations(w.task)]
    return {"selection": selection, "runs": runs, "data": data}


def _figure5_inputs(w):
    """Each task's selection, named by the task, and every selected run's files."""
    inputs = {"runs": []}
    for task in F5["tasks"]:
        inputs[task], runs = _selected(F5["model"], task, "masking")
        inputs["runs"] += runs
    return inputs
