# Config, paths and input functions of the §6 / App. B analyses (rules in analyses.smk, which includes this).

ANALYSES = config["analyses"]
ANALYSES_DIR = f"{RESULTS}/analyses"
ANALYSIS_BATCH = int(ANALYSES.get("batch_size", 64))
T3, F4, F5, F6, F7 = (ANALYSES[k] for k in ("table3", "figure4", "figure5", "figure6", "figure7"))


def _check_analyses():
    """Every run an analysis reads must be a point of the main grid (both methods), so none is trained
    for it; a name outside the grid is an error naming its key."""
    grid = {"models": MODELS, "tasks": TASKS, "seeds": SEEDS}
    problems = []

    def within(key, values, kind):
        for value in values:
            if value not in grid[kind]:
                problems.append(f"config key 'analyses.{key}': {value!r} is not in the main grid's {kind} "
                                f"{grid[kind]}; the analyses read trained runs and train none")  # fmt: skip

    if set(METHODS) != {"masking", "finetuning"}:
        problems.append("config key 'methods': the analyses compare masking with finetuning and need both")
    within("table3.models", T3["models"], "models")
    within("table3.train_tasks", T3["train_tasks"], "tasks")
    within("table3.transfer", [t["train_task"] for t in T3.get("transfer") or []], "tasks")
    for name, section in (("figure4", F4), ("figure6", F6), ("figure7", F7)):
        within(f"{name}.models", section["models"], "models")
        within(f"{name}.tasks", section.get("tasks", [section.get("task")]), "tasks")
        within(f"{name}.seeds", section["seeds"], "seeds")
    within("figure5.model", [F5["model"]], "models")
    within("figure5.tasks", F5["tasks"], "tasks")
    within("figure5.seeds", F5["seeds"], "seeds")
    for task in (*T3["eval_tasks"], *(t["eval_task"] for t in T3.get("transfer") or [])):
        if get_task(task).metric != "accuracy" or get_task(task).kind != "single":
            problems.append(f"config key 'analyses.table3': task {task!r} is not a single-text accuracy task")
    if get_task(F4["task"]).kind not in ("single", "pair"):
        problems.append(f"config key 'analyses.figure4.task': {F4['task']!r} is a {get_task(F4['task']).kind} task; "
                        "Figure 4 needs one [CLS] vector and one label per example (single or pair)")  # fmt: skip
    if problems:
        raise WorkflowError("Invalid config:\n" + "\n".join(f"  {p}" for p in problems))


_check_analyses()


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
            for t in (tasks or section["tasks"]) for s in section["seeds"]]  # fmt: skip

TABLE3_JSON = f"{ANALYSES_DIR}/table3/{{model}}/{{task}}/{{method}}.json"


def table3_evaluations(task):
    """What a model trained on `task` is evaluated on: every eval task's dev set, then its transfers."""
    evaluations = [{"eval_task": t, "split": "dev"} for t in T3["eval_tasks"]]
    evaluations += [{"eval_task": t["eval_task"], "split": t["split"]} for t in T3.get("transfer") or []
                    if t["train_task"] == task]  # fmt: skip
    return evaluations


def _table3_inputs(w):
    selection, runs = _selected(MODEL_OF_KEY[w.model], w.task, w.method)
    data = [DATA_DIR.format(model=w.model, task=e["eval_task"]) for e in table3_evaluations(w.task)]
    return {"selection": selection, "runs": runs, "data": data}

FIGURE4_JSON = f"{ANALYSES_DIR}/figure4/{{model}}/{{task}}/seed{{seed}}.json"

def _figure5_inputs(w):
    inputs = {}
    for task in F5["tasks"]:
        key = task.replace("-", "_")
        inputs[f"selection_{key}"], inputs[f"runs_{key}"] = _selected(F5["model"], task, "masking")
    return inputs

FIGURE6_JSON = f"{ANALYSES_DIR}/figure6/{{model}}/{{task}}/seed{{seed}}.json"

FIGURE7_JSON = f"{ANALYSES_DIR}/figure7/{{model}}/{{task}}/seed{{seed}}.json"

ANALYSIS_OUTPUTS = {
    "table3": table_files("table3_generalization"),
    "figure4": figure_files("figure4_tsne") + table_files("figure4_probe"),
    "figure5": figure_files("figure5_mask_dissimilarity") + table_files("figure5_mask_dissimilarity"),
    "figure6": figure_files("figure6_mode_connectivity") + table_files("figure6_mode_connectivity"),
    "figure7": figure_files("figure7_bezier") + table_files("figure7_bezier"),
}
