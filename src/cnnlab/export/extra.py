"""The optional packages an export needs (the `export` extra), imported with a clear error."""

from __future__ import annotations

import importlib

from cnnlab.errors import ExportError

INSTALL = "pip install 'cnnlab[export]'"
EXTRA = ("onnx", "onnxscript", "onnxruntime", "safetensors")  # pyproject's `export` extra


def require(*modules: str) -> None:
    """Import each of `modules` now, or raise one error naming the missing ones and the fix."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ExportError(
            f"cnnlab export needs {', '.join(missing)}, which is not installed: {INSTALL}"
        )
