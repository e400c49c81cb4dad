# Config, paths and input functions of the §6 / App. B analyses (rules in analyses.smk, which includes this).
# The analyses read runs of the main grid and train none: reproduction.grid.Grid narrows the config's
# `analyses` to the main grid (names outside it are left out with a warning naming the key) and lists each
# analysis's jobs; an analysis left with nothing to read has none and leaves the `tables` target.

ANALYSES_DIR = f"{RESULTS}/analyses"
ANALYSIS_BATCH = int(GRID.analysis_sections.get("batch_size", 64))
TABLE3_CONFIG, FIGURE4_CONFIG, FIGURE5_CONFIG, FIGURE6_CONFIG, FIGURE7_CONFIG = (
    GRID.analysis_sections[name] for name in ("table3", "figure4", "figure5", "figure6", "figure7")
)
TABLE3_JSON = f"{ANALYSES_DIR}/table3/{{model}}/{{task}}/{{method}}.json"
FIGURE4_JSON = f"{ANALYSES_DIR}/figure4/{{model}}/{{task}}/seed{{seed}}.json"
FIGURE5_SCORES = f"{ANALYSES_DIR}/figure5/{model_key(FIGURE5_CONFIG['model'])}/scores.csv"
FIGURE6_JSON = f"{ANALYSES_DIR}/figure6/{{model}}/{{task}}/seed{{seed}}.json"
FIGURE7_JSON = f"{ANALYSES_DIR}/figure7/{{model}}/{{task}}/seed{{seed}}.json"
ANALYSIS_OUTPUTS = {
    name: outputs
    for name, outputs in {
        "table3": table_files("table3_generalization"),
        "figure4": figure_files("figure4_tsne") + table_files("figure4_probe"),
        "figure5": figure_files("figure5_mask_dissimilarity") + table_files("figure5_mask_dissimilarity"),
        "figure6": figure_files("figure6_mode_connectivity") + table_files("figure6_mode_connectivity"),
        "figure7": figure_files("figure7_bezier") + table_files("figure7_bezier"),
    }.items()
    if name in GRID.analyses
}


def analysis_job_files(name, template):
    """`template` filled for every job of analysis `name` (none when it was left out)."""
    return [
        template.format(model=model_key(job.model), task=job.task, method=job.method, seed=job.seed)
        for job in GRID.analyses.get(name, [])
    ]


def _selected(model, task, method, names=("run.json", "artifact")):
    """The selection JSON and the selected runs' files of (model, task, method) at the main setting."""
    group = GRID.main_group(model, task, method)
    return group_path(SELECT_JSON, group), selected_run_files(model, task, method, group.setting, names)


def pair_inputs(w):
    """Both methods' selections and selected runs of (model, task), and the task's data."""
    model = MODEL_OF_KEY[w.model]
    inputs = {"data": DATA_DIR.format(model=w.model, task=w.task)}
    for method in ("finetuning", "masking"):
        inputs[f"{method}_selection"], inputs[f"{method}_runs"] = _selected(model, w.task, method)
    return inputs


def table3_evaluations(task):
    """What a model trained on `task` is evaluated on: every eval task's dev set, then its transfers."""
    evaluations = [{"eval_task": t, "split": "dev"} for t in TABLE3_CONFIG["eval_tasks"]]
    evaluations += [{"eval_task": t["eval_task"], "split": t["split"]} for t in TABLE3_CONFIG["transfer"]
                    if t["train_task"] == task]
    return evaluations


def table3_inputs(w):
    selection, runs = _selected(MODEL_OF_KEY[w.model], w.task, w.method)
    data = [DATA_DIR.format(model=w.model, task=e["eval_task"]) for e in table3_evaluations(w.task)]
    return {"selection": selection, "runs": runs, "data": data}


def figure5_inputs(w):
    """Each task's selection, named by the task, and every selected run's files."""
    inputs = {"runs": []}
    for task in FIGURE5_CONFIG["tasks"]:
        inputs[task], runs = _selected(FIGURE5_CONFIG["model"], task, "masking")
        inputs["runs"] += runs
    return inputs
