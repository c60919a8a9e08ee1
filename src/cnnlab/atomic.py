"""Atomic file writes: write to a temporary file beside the target, then rename over it.

A reader never sees a half-written file, and a crash or a full disk leaves the previous
version intact. A full disk (or quota) raises a `CnnlabError` naming the file, also when the
writer (e.g. `torch.save`) wrapped the `OSError` in an error of its own.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cnnlab.errors import CnnlabError

NO_SPACE = tuple(getattr(errno, name) for name in ("ENOSPC", "EDQUOT") if hasattr(errno, name))


def _no_space(error: BaseException | None) -> OSError | None:
    """The out-of-space `OSError` behind `error` (itself, or its cause or context), if any."""
    for _ in range(8):  # a short chain: torch wraps the OSError once or twice
        if error is None:
            return None
        if isinstance(error, OSError) and error.errno in NO_SPACE:
            return error
        error = error.__cause__ or error.__context__
    return None


def _no_space_error(path: Path, error: OSError) -> CnnlabError:
    return CnnlabError(
        f"cannot write {path}: no space left on the device ({error.strerror or error}); "
        f"{path.name} was not changed, so any previous version is intact. Free some space "
        f"and try again"
    )


@contextlib.contextmanager
def atomic_write(path: Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file for writing; on clean exit it replaces `path`, else it is removed."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary_name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
    except OSError as error:
        if _no_space(error):
            raise _no_space_error(path, error) from error
        raise
    temporary = Path(temporary_name)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(handle, mode, encoding=encoding) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        full = _no_space(error)
        if full is not None:
            raise _no_space_error(path, full) from error
        raise


def write_text(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically."""
    with atomic_write(path, "w") as stream:
        stream.write(text)
    return Path(path)


def write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    with atomic_write(path, "wb") as stream:
        stream.write(data)
    return Path(path)
