"""What each benchmark writes under "Machine:": the CPU model, its cores, and torch's threads when it uses torch."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo, or what `platform` knows elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or platform.machine()


def machine(torch_threads: bool = True) -> str:
    """One line: CPU, cores, torch and its threads (when `torch_threads`), the load average at the start."""
    parts = [f"CPU {cpu_name()} ({platform.machine()})", f"{os.cpu_count()} cores"]
    if torch_threads:
        import torch

        parts.append(f"torch {torch.__version__} with {torch.get_num_threads()} thread(s)")
    else:
        parts.append(f"Python {platform.python_version()}")
    return ", ".join(parts) + f", load average {os.getloadavg()[0]:.1f} at the start"
