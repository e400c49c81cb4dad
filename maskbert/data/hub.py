"""The `hub` source: `datasets.load_dataset` with the registry's dataset ids, converted to raw examples.

Kept thin on purpose: the logic is mapping hub columns and ClassLabel ids to the task's fields and label
names, refusing a hub label set that is not the registry's, and turning a dataset that does not load
(a script-only repository, a gated or renamed one, no network) into one line that names the local
alternative. `load_dataset` can be injected; tests also run the real one on local Parquet trees.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import DataError, at
from .tasks import TaskSpec


def _label_namer(spec: TaskSpec, feature, where: str) -> Callable[[object], str]:
    """int or str hub label -> label name, via the ClassLabel names when the hub has them.

    The hub's ClassLabel names must be the registry's, in its order: ids then mean the same whichever
    source a model was trained from, and a re-exported dataset whose labels changed is caught here.
    """
    hub_names = getattr(getattr(feature, "feature", feature), "names", None)
    if hub_names is not None and tuple(hub_names) != spec.label_names:
        raise at(
            where,
            None,
            f"label names {', '.join(hub_names)} in column '{spec.hub_label_field}'; expected the "
            f"registry's {', '.join(spec.label_names)} (in that order)",
        )
    names = hub_names or spec.label_names

    def name_of(value: object) -> str:
        if isinstance(value, str):
            return value
        return names[value] if isinstance(value, int) and 0 <= value < len(names) else f"<{value}>"

    return name_of


def convert_rows(spec: TaskSpec, dataset, where: str) -> list[dict]:
    """Raw examples from one hub split (a `datasets.Dataset` or any sequence of row dicts)."""
    features = getattr(dataset, "features", None) or {}
    name_of = _label_namer(spec, features.get(spec.hub_label_field), where)
    fields = spec.hub_text_fields
    examples = []
    for row_no, row in enumerate(dataset):
        missing = [key for key in (*fields, spec.hub_label_field) if key not in row]
        if missing:
            raise at(
                f"{where} row {row_no}",
                None,
                f"missing columns {missing}; expected {', '.join(fields)}, {spec.hub_label_field}",
            )
        if spec.kind == "tagging":
            tags = [name_of(tag) for tag in row[spec.hub_label_field]]
            examples.append({"tokens": list(row[fields[0]]), "tags": _known(spec, tags, where, row_no)})
            continue
        label = _known(spec, [name_of(row[spec.hub_label_field])], where, row_no)[0]
        texts = [row[key] for key in fields]
        # SWAG's start phrase (sent2) may be empty; every other text must not be
        required = texts[:1] + texts[2:] if spec.kind == "multiple_choice" else texts
        if any(not isinstance(text, str) or not text.strip() for text in required):
            raise at(f"{where} row {row_no}", None, f"empty text in {', '.join(fields)}")
        if spec.kind == "single":
            examples.append({"text": texts[0].strip(), "label": label})
        elif spec.kind == "pair":
            examples.append({"text_a": texts[0].strip(), "text_b": texts[1].strip(), "label": label})
        else:
            examples.append(
                {
                    "context": texts[0].strip(),
                    "start": texts[1].strip(),
                    "endings": [text.strip() for text in texts[2:]],
                    "label": label,
                }
            )
    if not examples:
        raise at(where, None, "no examples; expected a non-empty split")
    return examples


def _known(spec: TaskSpec, labels: list[str], where: str, row_no: int) -> list[str]:
    for label in labels:
        if label not in spec.label_names:
            expected = ", ".join(spec.label_names)
            raise at(f"{where} row {row_no}", None, f"unknown label {label!r}; expected one of: {expected}")
    return labels


def hub_location(spec: TaskSpec) -> str:
    """`ID[/CONFIG][@REVISION]`: what the hub source loads for a task, as messages name it."""
    config = f"/{spec.hub_config}" if spec.hub_config else ""
    revision = f"@{spec.hub_revision}" if spec.hub_revision else ""
    return f"{spec.hub_id}{config}{revision}"


def local_alternative(spec: TaskSpec) -> str:
    """How to read the task from local files instead: the option and the files it expects."""
    if "local" not in spec.sources:
        return "the task has no other source"
    files = "; ".join(f"{split}: {' or '.join(names)}" for split, names in spec.local_files)
    return f"use --source local --path DIR with {files} in DIR/{spec.local_dir} (or DIR itself)"


def read_hub(spec: TaskSpec, splits: tuple[str, ...], load_dataset=None) -> dict[str, list[dict]]:
    """Raw examples of the given splits from the hub (`load_dataset` defaults to `datasets.load_dataset`).

    A dataset that does not load stops with one DataError line naming the task, the dataset id and
    revision, the loader's own first line and the `--source local` alternative, never a traceback.
    """
    import datasets
    from datasets.exceptions import DatasetsError

    if load_dataset is None:
        load_dataset = datasets.load_dataset
    hub_splits = dict(spec.hub_splits)
    result = {}
    for split in splits:
        where = f"{hub_location(spec)}[{hub_splits[split]}]"
        try:
            dataset = load_dataset(
                spec.hub_id, spec.hub_config, split=hub_splits[split], revision=spec.hub_revision
            )
        except (OSError, RuntimeError, ValueError, DatasetsError) as error:
            reason = (str(error).strip().splitlines() or [""])[0]
            config = f" config {spec.hub_config}" if spec.hub_config else ""
            raise DataError(
                f"task '{spec.name}': hub dataset {spec.hub_id}{config} at revision "
                f"{spec.hub_revision or 'main'} did not load ({type(error).__name__}: {reason}); "
                f"{local_alternative(spec)}"
            ) from None
        result[split] = convert_rows(spec, dataset, where)
    return result
