"""The user documentation kept honest: targets, commands, job counts and snippets checked against the code.

One dry run of `tables` and one of `paper_main` with config.yaml (about 45 s together) serve every count.
"""

from __future__ import annotations

import argparse
import re

import pytest
import yaml
from workflow_runs import ROOT, job_counts, snakemake

from maskbert import cli
from maskbert.data import TASKS
from reproduction.grid import Grid, new_points

README = ROOT / "README.md"
WORKFLOW = ROOT / "docs" / "WORKFLOW.md"
USER_DOCS = [
    README,
    WORKFLOW,
    ROOT / "docs" / "ERRORS.md",
    ROOT / "docs" / "LIBRARY.md",
    ROOT / "bench" / "README.md",
    ROOT / "maskbert" / "data" / "README.md",
]


def workflow_sources() -> str:
    return "\n".join(
        path.read_text() for path in [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]
    )


def rule_bodies() -> dict[str, str]:
    """rule or checkpoint name -> the text of its definition (up to the next top-level statement)."""
    bodies = {}
    for match in re.finditer(r"^(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n|\n)*)", workflow_sources(), re.M):
        bodies[match.group(1)] = match.group(2)
    return bodies


def target_rules() -> set[str]:
    """Rules that only gather inputs: what a user names on the command line."""
    directives = ("output:", "shell:", "script:", "run:", "wrapper:", "notebook:")
    return {name for name, body in rule_bodies().items() if not any(d in body for d in directives)}


def named_targets(text: str) -> set[str]:
    """Targets a document names: `snakemake X` commands, and the first column of its targets table."""
    names = set(re.findall(r"^\s*(?:#\s+)?snakemake (\w+)", text, re.M))
    names |= set(re.findall(r"`snakemake (\w+)", text))
    table = text.split("| target | what |", 1)[1].split("\n\n", 1)[0] if "| target | what |" in text else ""
    for row in table.splitlines()[2:]:
        names |= set(re.findall(r"`(\w+)`", row.split("|")[1]))
    return names


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> dict[str, dict[str, int]]:
    """Job counts of the dry runs of `tables` and `paper_main` with config.yaml."""
    counts = {}
    for target in ("tables", "paper_main"):
        directory = tmp_path_factory.mktemp(target)
        proc = snakemake(
            target,
            "--configfile",
            str(ROOT / "config.yaml"),
            "--dry-run",
            "--quiet",
            "all",
            "--cores",
            "4",
            "--directory",
            str(directory),
        )
        counts[target] = job_counts(proc.stdout + proc.stderr)
    return counts


def test_every_target_the_docs_name_is_a_rule_and_every_target_rule_is_documented():
    rules = set(rule_bodies())
    workflow_doc = WORKFLOW.read_text()
    for path in (README, WORKFLOW, ROOT / "Snakefile"):
        unknown = named_targets(path.read_text()) - rules
        assert not unknown, f"{path.name} names targets that are no rules: {sorted(unknown)}"
    documented = named_targets(workflow_doc)
    assert target_rules() - documented == set(), "target rules missing from docs/WORKFLOW.md's table"
    assert {"tables", "paper_main", "table3", "figure7", "methods_comparison"} <= documented


def test_workflow_doc_starts_with_running():
    assert re.findall(r"^## (.+)$", WORKFLOW.read_text(), re.M)[0] == "Running"


def test_every_subcommand_is_in_the_cli_docstring_and_the_readme():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    names = set(commands.choices)
    assert {"train", "evaluate", "predict", "data"} <= names
    docstring_commands = set(re.findall(r"\w+", cli.__doc__.splitlines()[0].split(":", 1)[1]))
    assert names == docstring_commands
    readme = README.read_text()
    assert all(f"maskbert {name} " in readme for name in names)
    train_help = next(a.help for a in commands._choices_actions if a.dest == "train")
    assert "finetuning" not in train_help and "any registered method" in train_help


def test_job_counts_in_the_docs_are_the_dry_runs(plans):
    tables, main = plans["tables"], plans["paper_main"]
    text = WORKFLOW.read_text() + README.read_text()
    # the docs' convention: "N jobs" is the whole DAG of config.yaml, "M of them training" its train jobs
    assert {int(n.replace(",", "")) for n in re.findall(r"(\d[\d,]*) jobs", text)} == {tables["total"]}
    assert {int(n.replace(",", "")) for n in re.findall(r"(\d[\d,]*) of them training", text)} == {
        tables["train"]
    }
    # paper_main is exactly the main grid: its training runs are Grid's main points, and no sweep's
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    added = new_points(Grid(config).points())
    assert main["train"] == len(added["main"])
    assert not any(rule.startswith(("figure", "methods_comparison", "table3")) for rule in main)
    # the README's cost table: training runs per part, and its totals
    rows = {}
    table = README.read_text().split("| part | training runs |", 1)[1].split("\n\n", 1)[0]
    for row in table.splitlines()[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        rows[cells[0]] = [float(cell.replace("about ", "").replace(",", "")) for cell in cells[1:]]
    runs = {part: values[0] for part, values in rows.items()}
    assert runs["main grid (`paper_main`)"] == main["train"]
    assert runs["layer-wise sweep (Table 7, Figure 2)"] == len(added["layerwise"])
    assert runs["initial-sparsity sweep (Figure 1)"] == len(added["initial_sparsity"])
    assert runs["methods comparison"] == len(added["comparison"])
    assert runs["total (`tables`)"] == tables["train"]
    parts = [values for part, values in rows.items() if not part.startswith("total")]
    assert [sum(column) for column in zip(*parts, strict=True)] == rows["total (`tables`)"]


def test_every_hub_task_is_listed_with_its_id_config_and_revision():
    table = (ROOT / "maskbert" / "data" / "README.md").read_text().split("### Hub ids and revisions", 1)[1]
    rows = {
        cells[0]: cells[1:4]
        for line in table.splitlines()
        if line.startswith("| ")
        for cells in [[cell.strip().strip("`") for cell in line.strip("|").split("|")]]
    }
    hub_tasks = [spec for spec in TASKS.values() if "hub" in spec.sources]
    assert hub_tasks
    for spec in hub_tasks:
        assert rows[spec.name] == [spec.hub_id, spec.hub_config or "–", spec.hub_revision or "main"], (
            spec.name
        )


def test_user_docs_stay_inside_the_repository_and_the_readme_holds_no_measurement():
    for path in USER_DOCS:
        assert "../shared" not in path.read_text(), path
    readme = README.read_text()
    assert len(readme.splitlines()) <= 220
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", readme), "a dated measurement belongs in bench/README.md"


def test_the_readme_python_runs(tmp_path, monkeypatch, capsys, tiny_bert_with_tokenizer):
    """Every Python block of the README, in order in one namespace, on a tiny BERT (random weights, real
    vocabulary) standing in for bert-base-uncased and a small reviews.csv."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    rows = [
        f"a {word} film number {i},{label}"
        for i in range(20)
        for word, label in (("great", "pos"), ("dull", "neg"))
    ]
    (tmp_path / "reviews.csv").write_text("\n".join(["text,label", *rows]) + "\n")
    namespace: dict = {}
    for block in blocks:
        code = block.replace('"bert-base-uncased"', repr(tiny_bert_with_tokenizer))
        exec(compile(code, str(README), "exec"), namespace)
    assert namespace["summary"]["done"] and (tmp_path / "runs" / "reviews" / "artifact").is_dir()
    assert (tmp_path / "masks" / "sentiment" / "maskbert.json").is_file()
    answers = namespace["server"].predict(
        [{"task": "sentiment", "text": "a gripping film"}, {"task": "reviews", "text": "great"}]
    )
    assert [answer["label"] in ("negative", "positive", "neg", "pos") for answer in answers] == [True, True]
    assert "accuracy" in capsys.readouterr().out
