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


STUB_ENV = "MASKBERT_WORKFLOW_STUB"


def _stub_outputs(snakemake) -> None:
    """Create empty outputs and exit: a run that records real Snakemake provenance (params, inputs, code)
    without computing anything, for tests of what a config change reruns. Never set it for real work."""
    for out in snakemake.output:
        path = Path(out)
        if snakemake.rule == "prepare_data":  # its output is a directory()
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    for log in snakemake.log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        Path(log).write_text(f"{STUB_ENV} set: outputs stubbed\n")
    sys.exit(0)


def setup(snakemake, threads: int | None = None) -> logging.Logger:
    """Send stdout, stderr and logging to the rule's log file; cap CPU threads at the job's share."""
    if os.environ.get(STUB_ENV) == "1":
        _stub_outputs(snakemake)
    if snakemake.log:
        Path(snakemake.log[0]).parent.mkdir(parents=True, exist_ok=True)
        stream = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - lives as long as the job
        sys.stdout = sys.stderr = stream
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        force=True)  # fmt: skip
    n = str(threads or snakemake.threads or 1)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TOKENIZERS_PARALLELISM"):
        os.environ.setdefault(var, n if var != "TOKENIZERS_PARALLELISM" else "false")
    return logging.getLogger("maskbert.workflow")


def set_torch_threads(snakemake) -> None:
    import torch

    torch.set_num_threads(max(1, int(snakemake.threads or 1)))


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())


def write_json(path, value) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)
