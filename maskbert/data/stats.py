"""Per-task statistics (split sizes, label distribution, truncation) for `stats.json`, the CLI and Table 5."""

from __future__ import annotations

from collections import Counter

from .sources import get_task

TOP_LABELS = 12


def task_statistics(
    task,
    raw_splits: dict[str, list[dict]],
    truncation: dict[str, dict] | None = None,
    *,
    source: str | None = None,
) -> dict:
    """Sizes and label counts of raw splits, plus truncation counts per split when given.

    `table5` holds what the paper's Table 5 counts: examples, or for tagging the annotated words that
    survive truncation (the paper excludes the dropped ones: 51,341 NER dev words = 51,362 - 21).
    """
    spec = get_task(task)
    splits = {}
    for split, examples in raw_splits.items():
        tagging = spec.kind == "tagging"
        counts = (
            Counter(tag for ex in examples for tag in ex["tags"])
            if tagging
            else Counter(ex["label"] for ex in examples)
        )
        entry: dict = {"examples": len(examples)}
        if tagging:
            entry["words"] = sum(len(ex["tokens"]) for ex in examples)
        entry["labels"] = {name: counts.get(name, 0) for name in spec.label_names}
        if truncation and split in truncation:
            entry["truncation"] = truncation[split]
        splits[split] = entry
    table5 = {}
    for split in ("dev", "test"):
        if split in splits:
            entry = splits[split]
            kept = entry.get("truncation", {}).get("words_kept", entry.get("words"))
            table5[split] = kept if spec.kind == "tagging" else entry["examples"]
    return {
        "task": spec.name,
        "display_name": spec.display_name,
        "kind": spec.kind,
        "metric": spec.metric,
        "source": source,
        "reported_split": spec.reported_split,
        "splits": splits,
        "table5": {**table5, "unit": "words" if spec.kind == "tagging" else "examples"},
    }


def format_statistics(stats: dict) -> str:
    """A human-readable report of `task_statistics` output."""
    lines = [
        (
            f"{stats['display_name']} ({stats['task']}, source {stats['source']}): {stats['kind']}, "
            f"metric {stats['metric']}, reported split {stats['reported_split']}"
        )
    ]
    tagging = stats["kind"] == "tagging"
    header = f"{'split':<7}{'examples':>10}" + (f"{'words':>10}" if tagging else "")
    has_truncation = any("truncation" in entry for entry in stats["splits"].values())
    if has_truncation:
        header += f"{'truncated':>11}{'longest':>9}" + (f"{'words dropped':>15}" if tagging else "")
    lines.append(header)
    for split, entry in stats["splits"].items():
        row = f"{split:<7}{entry['examples']:>10,}" + (f"{entry['words']:>10,}" if tagging else "")
        if "truncation" in entry:
            cut = entry["truncation"]
            row += f"{cut['examples_truncated']:>11,}{cut['longest']:>9,}"
            row += f"{cut['words_dropped']:>15,}" if tagging else ""
        lines.append(row)
    if has_truncation:
        max_length = next(
            e["truncation"]["max_length"] for e in stats["splits"].values() if "truncation" in e
        )
        lines.append(
            f"(truncated: examples over {max_length} wordpieces with specials; longest: untruncated "
            "length" + ("; words dropped: annotated words with no wordpiece left" if tagging else "") + ")"
        )
    table5 = {split: count for split, count in stats["table5"].items() if split != "unit"}
    if table5:
        counts = ", ".join(f"{split} {count:,}" for split, count in table5.items())
        lines.append(
            f"Table 5 count ({stats['table5']['unit']}"
            + (", annotated words left after truncation" if tagging and has_truncation else "")
            + f"): {counts}"
        )
    lines.append("labels" + (" (words)" if tagging else "") + ":")
    for split, entry in stats["splits"].items():
        total = sum(entry["labels"].values()) or 1
        ranked = sorted(entry["labels"].items(), key=lambda item: -item[1])
        shown = [f"{name} {count:,} ({100 * count / total:.1f}%)" for name, count in ranked[:TOP_LABELS]]
        more = len([c for _, c in ranked[TOP_LABELS:] if c])
        lines.append(f"  {split}: " + ", ".join(shown) + (f", ... ({more} more)" if more else ""))
    return "\n".join(lines)
