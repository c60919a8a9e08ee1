"""A run's model as ONNX, TorchScript or safetensors, each file proved against the run.

    cnnlab.export("runs/digits", formats=["onnx", "safetensors"])   # -> ExportResult

The package imports no torch until an export runs (`metadata` is read by torch-free code).
It is callable: `cnnlab.export(...)` is `cnnlab.export.export(...)`, also once the package is
imported (which makes `cnnlab.export` the package itself).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def export(
    run_dir: Path | str,
    formats: str | Sequence[str] = ("onnx",),
    out: Path | str | None = None,
    *,
    opset: int | None = None,
    quantize: str | None = None,
    tolerance: float | None = None,
) -> Any:
    """Export the run's best checkpoint in `formats` into `out` (default `<run>/export/`) and
    prove each file on its test split; see `export.api.export_run`."""
    from cnnlab.export import api  # torch loads when an export runs, not on import

    return api.export_run(
        Path(run_dir),
        formats,
        None if out is None else Path(out),
        opset=api.DEFAULT_OPSET if opset is None else opset,
        quantize=quantize,
        tolerance=api.DEFAULT_TOLERANCE if tolerance is None else tolerance,
    )


class _CallablePackage(types.ModuleType):
    """This package's type: calling it calls `export`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
