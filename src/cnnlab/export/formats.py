"""The table of export formats: name -> file name, writer and the function that runs the file.

Adding a format is one `ExportFormat` entry: a writer `(source, path, opset) -> path` and an
answer `(path, images) -> logits` that runs the written file alone, which the proof compares
with the run's own model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.export.onnx_format import onnx_logits, write_onnx
from cnnlab.export.safetensors_format import safetensors_logits, write_safetensors
from cnnlab.export.source import ExportSource
from cnnlab.export.torchscript_format import torchscript_logits, write_torchscript


@dataclass(frozen=True)
class ExportFormat:
    """One format: its file in the export folder, how to write it and how to run it."""

    file: str
    write: Callable[[ExportSource, Path, int], Path]
    answer: Callable[[Path, np.ndarray], np.ndarray]  # logits (N, K) for images (N, C, H, W)
    needs: tuple[str, ...]  # packages of the `export` extra it needs
    has_opset: bool = False


FORMATS: dict[str, ExportFormat] = {
    "onnx": ExportFormat(
        "model.onnx", write_onnx, onnx_logits, ("onnx", "onnxscript", "onnxruntime"), True
    ),
    "torchscript": ExportFormat("model.pt", write_torchscript, torchscript_logits, ()),
    "safetensors": ExportFormat(
        "model.safetensors", write_safetensors, safetensors_logits, ("safetensors",)
    ),
}
