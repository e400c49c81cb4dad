"""A method's options read strictly, in one place, for the library, the command line and the workflow config.

Options arrive as JSON values (``--options``, a workflow config's ``method_options``, run.json) or as text
(``--option KEY=VALUE``, Snakemake's ``--config``, which hands nested values over as strings). Each is
read as its options dataclass field's type: a boolean is a JSON boolean (or one of the YAML spellings
true/false/yes/no/on/off), never another string; an integer or a number is one, finite; text for a field
that takes no string is read as JSON. A refusal is an `OptionError`, which the command line spells as
``--option <option>`` and the workflow config check as ``method_options.<method>.<option>``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

YAML_BOOLEANS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
SCALAR_KINDS = ("bool", "int", "float")


class OptionError(ValueError):
    """A method's option refused: `option` is the option's name, `problem` what is wrong with its value."""

    def __init__(self, method: str, option: str, problem: str):
        self.method, self.option, self.problem = method, option, problem
        super().__init__(f"method '{method}': option '{option}' {problem}")

    def on_command_line(self) -> str:
        """The refusal as `maskbert train` / `maskbert memory` print it."""
        return f"--option {self.option}: {self.problem} (method '{self.method}')"

    def in_config(self, key: str) -> str:
        """The refusal under config key `key` (method_options.<method>, or the per-model section)."""
        return f"config key '{key}.{self.option}': {self.problem}"


def _types(annotation: Any) -> set[str]:
    """The type names an annotation mentions besides None ('int | None' -> {'int'}; 'Optional[Union[list[str],
    str]]' -> {'list', 'str'}; a Literal's values left out)."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "", re.sub(r"<class '(\w+)'>", r"\1", str(annotation)))
    return set(re.findall(r"[A-Za-z_]\w*", text.replace("typing.", ""))) - {
        "Optional",
        "Union",
        "None",
        "NoneType",
    }


def scalar_kind(annotation: Any) -> str | None:
    """'bool', 'int' or 'float' when a field's annotation is that type alone (or it or None), else None."""
    types = _types(annotation)
    return types.pop() if len(types) == 1 and next(iter(types)) in SCALAR_KINDS else None


def _outer_types(annotation: Any) -> set[str]:
    """`_types` of the annotation with containers' contents left out ('tuple[str, ...]' -> {'tuple'})."""
    text = str(annotation)
    while True:
        shorter = re.sub(r"\b(list|tuple|dict|set)\[[^\[\]]*\]", r"\1", text)
        if shorter == text:
            return _types(text)
        text = shorter


def text_only(annotation: Any) -> bool:
    """Whether a field takes a string and nothing else (masking's masked_blocks '2-11' stays text)."""
    return _types(annotation) <= {"str", "Literal"}


def option_text(text: str, annotation: Any = "") -> Any:
    """An option given as text (``--option KEY=VALUE``) for a field that is no plain boolean or number: JSON
    when it parses (8, ["query","value"]), else the text itself, or for a field that takes a list but no
    string (masking's layer_types) the text split at commas."""
    if text_only(annotation):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        outer = _outer_types(annotation)
        if "str" not in outer and outer & {"list", "tuple"}:
            return [part.strip() for part in text.split(",")]
        return text


def text_value(text: str, kind: str) -> bool | int | float:
    """`text` read as `kind` ('bool', 'int', 'float'); a ValueError saying what was expected otherwise."""
    stripped = text.strip()
    if kind == "bool":
        if stripped.lower() in YAML_BOOLEANS:
            return YAML_BOOLEANS[stripped.lower()]
        raise ValueError("expected a boolean (true or false)")
    try:
        value = int(stripped) if kind == "int" else float(stripped)
    except ValueError:
        raise ValueError("expected an integer" if kind == "int" else "expected a number") from None
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _check_scalar(value: Any, kind: str) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError("expected a boolean (true or false)")
    elif (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind == "int" and isinstance(value, float))
    ):
        raise ValueError("expected an integer" if kind == "int" else "expected a number")
    return value


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def convert_option(method: str, option: str, value: Any, annotation: Any) -> Any:
    """`value` as the field's type: text read strictly (module doc), a JSON value checked; OptionError if not."""
    kind = scalar_kind(annotation)
    try:
        if isinstance(value, str):
            value = text_value(value, kind) if kind is not None else option_text(value, annotation)
        if kind is not None and value is not None:
            value = _check_scalar(value, kind)
        if not _finite(value):
            raise ValueError("expected a finite number")
    except ValueError as error:
        raise OptionError(method, option, f"{json.dumps(value)}: {error}") from None
    return value


def check_known(method: str, given: Iterable[str], known: Iterable[str], expected: str | None = None) -> None:
    """Refuse an option `method` does not have (a typo must not fall back to a default); `expected` says what
    it takes instead of the list of `known` options."""
    known = list(known)
    for option in given:
        if option not in known:
            raise OptionError(
                method, option, f"is unknown; {expected or 'expected one of ' + (', '.join(known) or 'none')}"
            )


def options_from_dict(options_class: type, values: Mapping[str, Any], method: str):
    """`options_class(**values)`, each value converted to its field's type and an unknown key refused; a
    value the class itself refuses (a ValueError starting ``<field>=``) is named as that option."""
    fields = {field.name: field.type for field in dataclasses.fields(options_class)}
    check_known(method, values, fields)
    converted = {key: convert_option(method, key, value, fields[key]) for key, value in values.items()}
    try:
        return options_class(**converted)
    except TypeError as error:  # a missing required field
        raise ValueError(f"method '{method}': {error}") from None
    except ValueError as error:
        field = re.match(r"(\w+)=", str(error))
        if field and field.group(1) in fields:
            raise OptionError(method, field.group(1), str(error)[len(field.group(0)) :].lstrip()) from None
        raise ValueError(f"method '{method}': {error}") from None
