"""Helpers shared by the workflow scripts (Snakemake puts this directory on sys.path)."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

# maskbert from this checkout when it is not installed (e.g. in the rules' conda environment).
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.append(_REPO)


from maskbert.rundir import write_json_atomic as write_json  # noqa: F401 - the one atomic writer

STUB_ENV = "MASKBERT_WORKFLOW_STUB"
STUB_BEST_LR_ENV = "MASKBERT_STUB_BEST_LR"


def _stub_outputs(snakemake) -> None:
    """Create placeholder outputs and exit: a run that records real Snakemake provenance (params, inputs,
    code) without computing anything, for tests of what a config change reruns. A train job's summary.json
    holds a made-up dev score, so that the (real) selection rules can run on it: it peaks at the learning
    rate in MASKBERT_STUB_BEST_LR (else every rate scores the same), and its run.json the job's params.
    Never set it for real work."""
    import math

    for out in snakemake.output:
        path = Path(out)
        if not path.suffix:  # a directory() output: tokenized data, a run's artifact
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if snakemake.rule == "train" and path.name == "summary.json":
            best = os.environ.get(STUB_BEST_LR_ENV)
            distance = abs(math.log10(float(snakemake.params.lr)) - math.log10(float(best))) if best else 0.0
            path.write_text(json.dumps({"best_dev_score": 90.0 - 10.0 * distance, "metric": "accuracy"}))
        elif snakemake.rule == "train" and path.name == "run.json":  # what the job was given, for tests
            path.write_text(json.dumps(dict(snakemake.params.items())))
        else:
            path.touch()
    for log in snakemake.log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        Path(log).write_text(f"{STUB_ENV} set: outputs stubbed\n")
    sys.exit(0)


def setup(snakemake, threads: int | None = None, stub: bool = True) -> logging.Logger:
    """Send stdout, stderr and logging to the rule's log file; cap CPU threads at the job's share.
    `stub=False` for the cheap bookkeeping scripts that run for real even in stub tests."""
    if stub and os.environ.get(STUB_ENV) == "1":
        _stub_outputs(snakemake)
    if snakemake.log:
        Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
        stream = open(snakemake.log[0], "w", buffering=1)
        sys.stdout = sys.stderr = stream
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True
    )
    n = str(threads or snakemake.threads or 1)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TOKENIZERS_PARALLELISM"):
        os.environ.setdefault(var, n if var != "TOKENIZERS_PARALLELISM" else "false")
    return logging.getLogger("maskbert.workflow")


def set_torch_threads(snakemake) -> None:
    import torch

    torch.set_num_threads(max(1, int(snakemake.threads or 1)))


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())
