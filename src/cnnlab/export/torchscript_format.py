"""TorchScript: the network traced (`torch.jit.trace`), its properties as an extra JSON file.

TorchScript is deprecated upstream in favour of torch.export; it is kept for runtimes (C++
libtorch, older mobile) that read only it. The traced file answers with the flip averaging
inside, as the ONNX file does.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch

from cnnlab.atomic import write_bytes
from cnnlab.errors import ExportError
from cnnlab.export.files import example_input, quiet, unit_batches
from cnnlab.export.metadata import ExportMetadata, read_metadata
from cnnlab.export.source import ExportSource

PROPERTIES = "cnnlab.json"  # the extra file holding the `cnnlab.*` properties


def write_torchscript(source: ExportSource, path: Path, opset: int) -> Path:
    """`source`'s network traced and saved at `path` (`opset` is ONNX's and unused here)."""
    del opset
    buffer = io.BytesIO()
    properties = json.dumps(source.metadata.props(), indent=1)
    try:
        with quiet(), torch.inference_mode():
            traced = torch.jit.trace(source.network, example_input(source.metadata.input_shape))
            torch.jit.save(traced, buffer, _extra_files={PROPERTIES: properties})
    except Exception as error:  # tracing runs the user's forward, which may raise anything
        raise ExportError(
            f"run {source.loaded.path}: torch.jit.trace failed: {type(error).__name__}: {error}"
        ) from None
    return write_bytes(path, buffer.getvalue())


def load_torchscript(path: Path) -> tuple[torch.jit.ScriptModule, ExportMetadata]:
    """The traced module at `path` (CPU, eval mode) and its properties."""
    extra = {PROPERTIES: ""}
    try:
        with quiet():
            module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        props = json.loads(extra[PROPERTIES] or "{}")
    except (RuntimeError, ValueError) as error:
        raise ExportError(f"{path}: not a readable TorchScript file: {error}") from None
    return module.eval(), read_metadata(props)


def torchscript_logits(path: Path, images: np.ndarray) -> np.ndarray:
    """Logits (N, K) float32 of the TorchScript file at `path` for images (N, C, H, W)."""
    module, _ = load_torchscript(path)
    with torch.inference_mode(), quiet():
        chunks = [module(torch.from_numpy(batch)).numpy() for batch in unit_batches(images)]
    return np.concatenate(chunks)
