"""The `maskbert` command: train, prepare, evaluate, memory, data, predict.

The workflow runs `prepare` and `train` as its data and training jobs; its scripts call the same library
functions.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys

from maskbert.methods.options import OptionError
from maskbert.precision import PRECISIONS


def _quiet_libraries() -> None:
    """Keep the command's output to its own report: no load reports or per-shard progress bars."""
    import datasets
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    datasets.disable_progress_bars()


def cmd_train(args) -> int:
    from maskbert.data.custom import is_custom_task, task_argument
    from maskbert.devices import acquire_device
    from maskbert.training import TrainConfig, train

    task = task_argument(args.task, args.text_column, args.text_pair_column, args.label_column, args.encoding)
    config = TrainConfig(
        model=args.model,
        task=task,
        method=args.method,
        seed=args.seed,
        lr=args.lr,
        out_dir=args.out,
        epochs=args.epochs,
        patience=args.patience,
        group_by_length=args.group_by_length,
        precision=args.precision,
        batch_size=args.batch_size,
        max_length=args.max_length,
        options=method_options(args.options, args.option),
        source=args.source,
        path=args.path,
        prepared_dir=args.prepared,
        device=args.device,
        encoding=None if is_custom_task(task) else args.encoding,  # a data file's is in its task name
        wait=args.wait,
    )
    if args.device is not None:
        summary = train(config, overwrite=args.overwrite)
    else:  # a GPU no other job holds (CUDA_VISIBLE_DEVICES narrowed to it), else the CPU
        with acquire_device() as device:
            summary = train(dataclasses.replace(config, device=device), overwrite=args.overwrite)
    print(json.dumps(summary, indent=2))
    return 0


def cmd_prepare(args) -> int:
    from maskbert.data import get_task, prepare

    source = args.source or get_task(args.task).sources[0]
    out = prepare(
        args.task, args.model, source=source, path=args.path, out_dir=args.out, max_length=args.max_length
    )
    print(out)
    return 0


def cmd_evaluate(args) -> int:
    from maskbert.evaluation import evaluate_run

    prepared = args.prepared
    if args.task:  # the run's data where it is now
        from maskbert.data.cache import prepare_for_run
        from maskbert.rundir import read_run

        prepared = prepare_for_run(read_run(args.run), args.task)
    result = evaluate_run(args.run, args.split, prepared_dir=prepared, out_dir=args.out, device=args.device)
    print(json.dumps(result, indent=2))
    return 0


def cmd_memory(args) -> int:
    from maskbert.memory import accumulated_memory, memory_table

    labels = {"binary": 2}
    if args.tasks:
        try:
            labels = {task: int(n) for task, n in (item.split("=") for item in args.tasks.split(","))}
        except ValueError:
            raise ValueError(
                f"--tasks '{args.tasks}': expected TASK=LABELS[,TASK=LABELS...], e.g. MRPC=2,TREC=6"
            ) from None
    options = method_options(args.options, args.option)
    table = memory_table(args.model, labels, options, method=args.method)
    print(table.to_string(index=False, formatters={"params": "{:,}".format, "memory_kb": "{:,.3f}".format}))
    if args.tasks:
        print()
        methods = tuple(dict.fromkeys(("finetuning", args.method)))
        print(
            accumulated_memory(args.model, labels, {args.method: options}, methods=methods).to_string(
                index=False
            )
        )
    return 0


def cmd_predict(args) -> int:
    from maskbert.serving import MaskServer, serve_lines

    server = MaskServer(
        args.base_model, device=args.device or "cpu", batch_size=args.batch_size, max_length=args.max_length
    )
    for item in args.model_dir:
        name, equals, path = item.partition("=")
        named = equals and not os.path.exists(item)  # a path may itself contain '='
        server.add(path if named else item, name if named else None)
    with (
        open(args.input, "rb")
        if args.input
        else contextlib.nullcontext(getattr(sys.stdin, "buffer", sys.stdin)) as source
    ):
        for record in serve_lines(server, source):
            print(json.dumps(record, ensure_ascii=False), flush=True)
    return 0


def method_options(options_json: str | None, options: list[str] | None) -> dict:
    """A method's options from `--options JSON` and repeated `--option KEY=VALUE` (VALUE as text, which the
    method reads as the option's type: 8, 0.05, true, ["query","value"], 2-11); the method checks them."""
    values = {}
    if options_json:
        try:
            values = json.loads(options_json)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"--options '{options_json}': not JSON ({error.msg} at column {error.colno})"
            ) from None
        if not isinstance(values, dict):
            raise ValueError(f"--options '{options_json}': expected a JSON object such as '{{\"r\": 8}}'")
    for item in options or []:
        key, equals, text = item.partition("=")
        if not equals or not key:
            raise ValueError(f"--option '{item}': expected KEY=VALUE, e.g. masked_blocks=2-11")
        values[key] = text  # read as the option's type by the method (maskbert.methods.options)
    return values


def add_option_arguments(parser) -> None:
    parser.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="an option of the method, repeatable (masking: masked_blocks=2-11, initial_sparsity=0.05)",
    )
    parser.add_argument(
        "--options", default=None, metavar="JSON", help="the method's options as one JSON object"
    )


def build_parser() -> argparse.ArgumentParser:
    from maskbert.data.custom import add_column_arguments
    from maskbert.methods import METHODS

    parser = argparse.ArgumentParser(prog="maskbert", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train one run of any registered method (--method) into a run directory",
        description="Train one (model, task, method, seed, lr) run. OUT receives the "
        "artifact, metrics.jsonl, the best epoch's dev predictions and summary.json; "
        "rerunning an interrupted run resumes it.",
    )
    train.add_argument(
        "--model", required=True, help="hub id or local directory (BERT, RoBERTa or DistilBERT)"
    )
    train.add_argument(
        "--task",
        required=True,
        help="task name from the registry (see `maskbert data --help`), "
        "or a .csv/.tsv/.jsonl file or a folder of train/dev/test files (see README)",
    )
    add_column_arguments(train)
    train.add_argument(
        "--method",
        required=True,
        help=f"a method registered in maskbert.methods.METHODS: {', '.join(METHODS)}",
    )
    add_option_arguments(train)
    train.add_argument("--seed", type=int, required=True)
    train.add_argument("--lr", type=float, required=True, help="Adam learning rate")
    train.add_argument("--out", required=True, help="run directory")
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the files of a run with another config or other data in --out (train it again)",
    )
    train.add_argument(
        "--wait",
        action="store_true",
        help="if another training is writing --out, wait for it to finish (default: stop with an error)",
    )
    train.add_argument("--epochs", type=int, default=10, help="maximum epochs (default 10)")
    train.add_argument("--patience", type=int, default=2, help="stop after this many epochs without dev gain")
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument(
        "--group-by-length",
        action="store_true",
        help="batches of similar length (less padding, faster; default: random batches, as in the paper)",
    )
    train.add_argument(
        "--precision",
        default="fp32",
        choices=PRECISIONS,
        help="training-step arithmetic: fp32 (default, the paper's), tf32 (CUDA matmuls) or bf16 autocast",
    )
    train.add_argument(
        "--max-length", type=int, default=128, help="wordpieces per example after tokenization"
    )
    train.add_argument(
        "--source", default="hub", choices=["hub", "local", "synthetic"], help="where data comes from"
    )
    train.add_argument("--path", default=None, help="directory of the local copy (with --source local)")
    train.add_argument(
        "--prepared", default=None, help="a tokenized task directory from `prepare` (skips tokenizing)"
    )
    train.add_argument(
        "--device",
        default=None,
        help="cpu or cuda (default: a visible GPU no other maskbert job holds, waiting for one; else the CPU)",
    )
    train.set_defaults(handler=cmd_train)

    prepare = commands.add_parser(
        "prepare",
        help="tokenize a task for a model into a folder that `train --prepared` reads",
        description="Read a task and tokenize it for a model into OUT (a complete folder of the same "
        "data, tokenizer and max length is kept as it is).",
    )
    prepare.add_argument("task", help="task name from the registry (see `maskbert data --help`)")
    prepare.add_argument("--model", required=True, help="hub id or local directory: its tokenizer is used")
    prepare.add_argument("--out", required=True, help="folder of the tokenized task")
    prepare.add_argument(
        "--source",
        default=None,
        choices=["hub", "local", "synthetic"],
        help="where data comes from (default: the task's first source)",
    )
    prepare.add_argument("--path", default=None, help="directory of the local copy (with --source local)")
    prepare.add_argument("--max-length", type=int, default=128, help="wordpieces per example")
    prepare.set_defaults(handler=cmd_prepare)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a finished run on a split of its task",
        description="Write {split}_predictions.safetensors and {split}_metrics.json "
        "into OUT (default RUN/evaluation/); the run's own files stay as they are.",
    )
    evaluate.add_argument("--run", required=True, help="run directory written by `maskbert train`")
    evaluate.add_argument("--split", required=True, choices=["train", "dev", "test"])
    data = evaluate.add_mutually_exclusive_group()
    data.add_argument(
        "--prepared",
        default=None,
        help="tokenized task directory (default: the run's own; another task's needs the same labels)",
    )
    data.add_argument(
        "--task",
        default=None,
        help="a data file or folder, tokenized for the run's model (e.g. the run's data after it moved)",
    )
    evaluate.add_argument(
        "--out", default=None, help="folder for the predictions and metrics (default RUN/evaluation)"
    )
    evaluate.add_argument("--device", default=None)
    evaluate.set_defaults(handler=cmd_evaluate)

    memory = commands.add_parser(
        "memory",
        help="Table 8: parameters and memory of masking vs finetuning",
        description="Computed from the model config alone (shipped for the paper models).",
    )
    memory.add_argument("--model", default="bert-base-uncased")
    memory.add_argument("--method", default="masking", choices=list(METHODS), help="whose storage to list")
    add_option_arguments(memory)
    memory.add_argument(
        "--tasks",
        default=None,
        help="comma list TASK=LABELS (e.g. MRPC=2,TREC=6) for per-task and accumulated rows",
    )
    memory.set_defaults(handler=cmd_memory)

    predict = commands.add_parser(
        "predict",
        help="serve masking, BitFit and peft runs on one backbone: JSONL requests in, predictions out",
        description="Load the base model once and the given masks, BitFit and peft runs; read JSONL requests "
        '{"task": ..., "text": ...[, "text_pair": ...]} from stdin (or --input) and write '
        "one JSON line per request: label and probabilities (tagging: words and labels), "
        'or {"line": N, "error": ...} for a bad request.',
    )
    predict.add_argument(
        "--model-dir",
        action="append",
        required=True,
        metavar="[NAME=]DIR",
        help="a mask directory or file, or a masking, BitFit or peft run directory (finetuning runs are "
        "refused); repeat for more tasks (NAME: the task name requests use, default the recorded task name)",
    )
    predict.add_argument(
        "--base-model", default=None, help="base model name or directory (default: the recorded one)"
    )
    predict.add_argument("--input", default=None, help="JSONL file of requests (default: stdin)")
    predict.add_argument("--batch-size", type=int, default=32)
    predict.add_argument("--max-length", type=int, default=128)
    predict.add_argument("--device", default=None, help="cpu or cuda (default: cpu)")
    predict.set_defaults(handler=cmd_predict)

    from maskbert.data.cli import add_data_parser, run_data

    add_data_parser(commands)
    commands.choices["data"].set_defaults(handler=run_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, FloatingPointError, OSError) as error:
        if isinstance(error, OptionError):
            error = error.on_command_line()
        print(f"maskbert {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
