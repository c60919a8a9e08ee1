"""Checkpoints: written atomically, read back with `weights_only=True` (no code runs on load)."""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from cnnlab.atomic import atomic_write
from cnnlab.errors import TrainingError


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write `state` (tensors, numbers, strings, lists, dicts) to `path` atomically."""
    with atomic_write(Path(path), "wb") as stream:
        torch.save(state, stream)
    return Path(path)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely; a missing, truncated or unsafe file raises naming it."""
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        # torch's own text goes on to explain how to load the file anyway, unsafely: only
        # the part that says what was found is passed on
        found = re.search(r"Unsupported global: GLOBAL [\w.]+|Unsupported operand \d+", str(error))
        what = found.group(0) if found else "an object that is not a tensor or plain value"
        raise TrainingError(
            f"checkpoint {path} was refused: it holds more than weights and plain values "
            f"({what}); cnnlab reads checkpoints so that loading runs no code, and only "
            f"loads files that cnnlab wrote"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as error:
        raise TrainingError(f"checkpoint {path} is unreadable or truncated: {error}") from None
    if not isinstance(state, dict):
        raise TrainingError(
            f"checkpoint {path}: expected a dict of states, got {type(state).__name__}"
        )
    return state
