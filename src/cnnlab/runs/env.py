"""What a run ran on: versions, device and source revision, for `env.json`."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

import cnnlab


def cpu_model() -> str:
    """The CPU's model name (Linux), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision(directory: Path) -> str | None:
    """The git commit of `directory`'s checkout, or None outside a repository."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def environment(device: torch.device, threads: int, precision: str) -> dict[str, Any]:
    """Versions, hardware and revision of the current process; `precision` is the arithmetic
    the run's forward passes used ("bf16", "fp16" or "fp32": `train.precision` resolved)."""
    info: dict[str, Any] = {
        "cnnlab": cnnlab.__version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": cpu_model(),
        # torch's CPU kernels' vector unit ("AVX2", "AVX512", ...): with `train.precision:
        # auto` it decides bf16 or fp32, and so a run's speed and last digits
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": threads,
        "device": str(device),
        "precision": precision,
        "command": sys.argv,
        "git_revision": git_revision(Path(cnnlab.__file__).resolve().parent),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
