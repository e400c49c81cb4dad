"""Give each locally running job its own GPU.

Snakemake's ``--resources gpu=N`` bounds how many GPU jobs run at once but does not say *which* device a
job should use. :func:`acquire_device` picks one: it holds an exclusive ``fcntl`` lock on a file per
device index for as long as the job runs, so two concurrent jobs never share a device, and it sets
``CUDA_VISIBLE_DEVICES`` to that one device for the job.

* An existing ``CUDA_VISIBLE_DEVICES`` is honoured: only the devices it lists are candidates (an empty
  value means no GPU), and the job gets one of them.
* Lock files are namespaced by host and, inside a Slurm allocation, by job id: separate Slurm jobs already
  get disjoint devices from the scheduler (each sees its own "0"), while local jobs inside one allocation
  still exclude each other.
* With no GPU at all the job runs on the CPU and nothing is locked.

The OS releases an ``fcntl`` lock when its holder exits, so a killed job never leaves a device taken.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path

LOCK_DIR_ENV = "MASKBERT_GPU_LOCK_DIR"


def default_lock_dir() -> Path:
    """``$MASKBERT_GPU_LOCK_DIR``, else a per-user directory under the system temp dir (machine-wide)."""
    env = os.environ.get(LOCK_DIR_ENV)
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"maskbert-gpu-locks-{os.getuid()}"


def count_gpus() -> int:
    """Number of CUDA devices on this machine, without initialising CUDA in this process.

    CUDA reads ``CUDA_VISIBLE_DEVICES`` once, when it initialises; counting with ``torch.cuda`` here would
    freeze the job's view before :func:`acquire_device` narrows it. So count in a child process:
    ``nvidia-smi -L`` when present, else a one-line torch query.
    """
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "-L"], check=False, capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None and out.returncode == 0:
            return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))
    if not (glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/kfd")):
        return 0  # no NVIDIA or ROCm device node: skip the slow torch query
    try:
        out = subprocess.run(
            [sys.executable, "-c", "import torch; print(torch.cuda.device_count())"],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else 0
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return 0


def candidate_devices(n_gpus: int | None = None, env: Mapping[str, str] | None = None) -> list[str]:
    """The device ids a job may take: those in ``CUDA_VISIBLE_DEVICES`` if set, else ``0..n_gpus-1``."""
    env = os.environ if env is None else env
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        visible = visible.strip()
        if visible in ("", "-1", "none", "NoDevFiles"):
            return []
        return [d.strip() for d in visible.split(",") if d.strip()]
    if n_gpus is None:
        n_gpus = count_gpus()
    return [str(i) for i in range(n_gpus)]


def _namespace(env: Mapping[str, str]) -> str:
    parts = [socket.gethostname()]
    if env.get("SLURM_JOB_ID"):
        parts.append(f"slurm{env['SLURM_JOB_ID']}")
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(parts))


def _try_lock(path: Path):
    handle = open(path, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


@contextlib.contextmanager
def acquire_device(
    lock_dir: str | os.PathLike | None = None,
    n_gpus: int | None = None,
    *,
    env: MutableMapping[str, str] | None = None,
    poll_seconds: float = 0.5,
    timeout: float | None = None,
) -> Iterator[str]:
    """Hold a free GPU for the duration of the ``with`` block and yield ``"cuda:0"``, or ``"cpu"``.

    ``n_gpus`` overrides device detection (tests, or to use fewer devices than present). While held,
    ``CUDA_VISIBLE_DEVICES`` (in ``env``, default ``os.environ``) names only the chosen device, so the
    job sees it as ``cuda:0``; the previous value is restored on exit. Waits (polling) while every
    candidate is taken; ``timeout`` seconds without a free device raise ``TimeoutError``.
    """
    env = os.environ if env is None else env
    candidates = candidate_devices(n_gpus, env)
    if not candidates:
        yield "cpu"
        return
    lock_dir = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)
    namespace = _namespace(env)
    start = time.monotonic()
    # Start the scan at a pid-dependent offset so concurrent starters spread over devices.
    offset = os.getpid() % len(candidates)
    order = candidates[offset:] + candidates[:offset]
    while True:
        for device in order:
            handle = _try_lock(lock_dir / f"{namespace}-gpu{device}.lock")
            if handle is not None:
                break
        else:
            if timeout is not None and time.monotonic() - start > timeout:
                raise TimeoutError(
                    f"no free GPU among {candidates} after {timeout:.0f} s (locks in {lock_dir})"
                )
            time.sleep(poll_seconds)
            continue
        break
    previous = env.get("CUDA_VISIBLE_DEVICES")
    try:
        env["CUDA_VISIBLE_DEVICES"] = device
        yield "cuda:0"
    finally:
        if previous is None:
            env.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            env["CUDA_VISIBLE_DEVICES"] = previous
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()


def pick_device() -> str:
    """The device a job uses when none is given: the (first visible) GPU when CUDA has one, else the CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_device(device: str | None) -> None:
    """Refuse a device that does not exist or is not available here, naming what is (None: chosen later)."""
    if device is None:
        return
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device '{device}': expected cpu, cuda, cuda:N or mps") from None
    if parsed.type == "cpu":
        return
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device '{device}': no CUDA GPU is available here; use --device cpu")
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(f"device '{device}': this machine has CUDA devices 0-{count - 1}")
        return
    if parsed.type == "mps" and torch.backends.mps.is_available():
        return
    raise ValueError(f"device '{device}': not available here; expected cpu or cuda")
