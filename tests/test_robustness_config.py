"""A YAML syntax error in the workflow's config.yaml names the file, line and column (issue 16)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_yaml_syntax_error_in_config_yaml_names_file_and_line(tmp_path):
    shutil.copy(ROOT / "Snakefile", tmp_path / "Snakefile")
    (tmp_path / "config.yaml").write_text("models: [a, b]\ntasks:\n  - x: : y\n")
    snakemake = Path(sys.executable).with_name("snakemake")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [snakemake, "-n"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode != 0
    assert (
        "config.yaml:3:8: YAML syntax error: mapping values are not allowed here"
        in result.stdout + result.stderr
    )
