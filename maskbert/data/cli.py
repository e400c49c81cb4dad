"""`maskbert data TASK`: check a task's data (split sizes, labels, truncation) before a long run."""

from __future__ import annotations

import argparse
import sys

from .custom import is_custom_task, task_argument
from .encoding import encode_split, load_tokenizer
from .errors import DataError
from .sources import DEFAULT_SEED, get_task, read_splits
from .stats import format_statistics, task_statistics
from .tasks import SOURCES, TASKS


def add_data_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `data` subcommand on an argparse subparsers object; the caller dispatches to `run_data`."""
    parser = subparsers.add_parser(
        "data",
        help="print a task's split sizes, label distribution and truncation counts",
        description="Read a task (and with --model tokenize it in memory, nothing is cached) and print "
        "its split sizes, label distribution and truncation counts.",
    )
    parser.add_argument("task", help=f"task name: {', '.join(TASKS)}")
    parser.add_argument(
        "--source",
        choices=SOURCES,
        help="default: the task's first source (hub for the "
        "paper's hub tasks, local for SEM and POS, synthetic for synth-*)",
    )
    parser.add_argument("--path", help="directory of the local copy (the task folder or a data root)")
    parser.add_argument("--model", help="tokenizer (model name or directory) for the truncation counts")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="dev hold-out and synthetic seed")
    parser.add_argument("--max-length", type=int, default=128, help="wordpiece limit incl. specials")
    parser.add_argument("--splits", help="comma-separated subset of splits, e.g. dev for a partial copy")
    parser.add_argument(
        "--encoding", help="the files' encoding (a data file, or --source local; default: the format's own)"
    )
    return parser


def run_data(args: argparse.Namespace) -> int:
    try:
        name = task_argument(args.task, encoding=args.encoding)  # a data file's encoding joins its name
        spec = get_task(name)
        source = args.source or spec.sources[0]
        splits = tuple(args.splits.split(",")) if args.splits else None
        encoding = None if is_custom_task(name) else args.encoding
        raw = read_splits(spec, source, args.path, seed=args.seed, splits=splits, encoding=encoding)
        truncation = None
        if args.model:
            tokenizer = load_tokenizer(args.model, spec.kind)
            truncation = {
                split: encode_split(spec, examples, tokenizer, args.max_length)[1]
                for split, examples in raw.items()
            }
    except (DataError, ValueError, OSError) as error:
        print(f"maskbert data: error: {error}", file=sys.stderr)
        return 2
    print(format_statistics(task_statistics(spec, raw, truncation, source=source)))
    return 0
