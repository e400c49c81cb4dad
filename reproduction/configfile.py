"""A YAML syntax error in the workflow's config file, said with file, line and column.

Snakemake's own message for one ("Config file is not valid JSON or YAML") names neither the file nor the
line: the Snakefile reads its config.yaml once with Snakemake's `configfile:` and, only when Snakemake
refuses it, asks this module where the error lies. A file given with --configfile is read by Snakemake
before the Snakefile runs, so only the Snakefile's own config.yaml gets this message.
"""

from __future__ import annotations

from pathlib import Path

import yaml


def yaml_syntax_error(path: str | Path) -> str | None:
    """'PATH:LINE:COLUMN: YAML syntax error: ...' for an existing file YAML cannot parse, else None."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        return f"{path}:{mark.line + 1}:{mark.column + 1}: YAML syntax error: {error.problem}"
    return None
