"""The one error type of the data layer: a one-line message that names where and what was expected."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad or missing input data; the message names the file and line (or key) and what was expected."""


def at(file: str | Path, line: int | None, message: str) -> DataError:
    """A DataError located at `file:line` (line omitted when it is not known)."""
    where = f"{file}:{line}" if line is not None else str(file)
    return DataError(f"{where}: {message}")
