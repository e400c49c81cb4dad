"""A YAML syntax error in the workflow's config.yaml names the file, line and column (issue 16)."""

from workflow_runs import snakemake


def test_a_yaml_syntax_error_in_config_yaml_names_file_and_line(tmp_path):
    """The Snakefile reads config.yaml from the directory it runs in: here one YAML cannot parse."""
    (tmp_path / "config.yaml").write_text("models: [a, b]\ntasks:\n  - x: : y\n")
    result = snakemake("-n", cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert (
        "config.yaml:3:8: YAML syntax error: mapping values are not allowed here"
        in result.stdout + result.stderr
    )
