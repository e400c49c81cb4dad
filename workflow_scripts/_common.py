"""Helpers shared by the workflow scripts (Snakemake puts this directory on sys.path)."""

from __future__ import annotations

import json
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path

# maskbert from this checkout when it is not installed (e.g. in the rules' conda environment).
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.append(_REPO)


from maskbert.rundir import write_json_atomic as write_json  # noqa: F401 - the one atomic writer


def setup(snakemake, threads: int | None = None) -> logging.Logger:
    """Send stdout, stderr and logging to the rule's log file; cap CPU threads at the job's share."""
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


@contextmanager
def job_device(snakemake):
    """A device of the job's own (a free GPU, else the CPU) with torch's threads capped at the job's share."""
    from maskbert.devices import acquire_device

    with acquire_device() as device:
        set_torch_threads(snakemake)
        yield device


def selected_pair(snakemake):
    """(finetuned run, masked run, prepared data) of the job's seed: both methods' selected runs of that
    seed, read from their selections, and the task's tokenized data (the analyses' pair jobs)."""
    from maskbert.data import load_prepared

    seed = str(snakemake.params.seed)
    inputs = snakemake.input
    finetuned = read_json(inputs.finetuning_selection)["runs"][seed]
    masked = read_json(inputs.masking_selection)["runs"][seed]
    return finetuned, masked, load_prepared(inputs.data)
