"""The benchmark scripts still match the library: every name they import from maskbert, reproduction or
bench/ itself exists, imports inside functions included (no test runs the benchmarks themselves)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
OURS = ("maskbert", "reproduction", "machine_info")


def imported_names(script: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) of every import of ours in `script`; name None for `import module`."""
    found = []
    for node in ast.walk(ast.parse(script.read_text(), filename=str(script))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in OURS:
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] in OURS]
    return found


@pytest.mark.parametrize("script", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_every_import_of_a_benchmark_resolves(script, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    missing = []
    for line, module, name in imported_names(script):
        try:
            imported = importlib.import_module(module)
        except ImportError as error:
            missing.append(f"{script.name}:{line}: {module} ({error})")
            continue
        if name is not None and not hasattr(imported, name):
            try:  # a submodule imported by name
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{script.name}:{line}: {module} has no {name}")
    assert not missing, "\n".join(missing)


def test_the_checker_sees_a_missing_name(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("def f():\n    from maskbert.data.tasks import no_such_name\n")
    assert imported_names(script) == [(2, "maskbert.data.tasks", "no_such_name")]
    assert not hasattr(importlib.import_module("maskbert.data.tasks"), "no_such_name")
