"""Arrays to and from `.npz` files: written atomically, read without pickle."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cnnlab.atomic import atomic_write
from cnnlab.errors import TrainingError


def save_arrays(path: Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write `arrays` (name -> array or number) to the .npz file `path` atomically."""
    with atomic_write(Path(path), "wb") as stream:
        np.savez(stream, **{name: np.asarray(value) for name, value in arrays.items()})
    return Path(path)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """name -> array from the .npz file `path`, in the order they were written; no pickles allowed."""
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"weights file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise TrainingError(
            f"weights file {path} is unreadable, truncated or holds objects (pickles are refused): {error}"
        ) from None
