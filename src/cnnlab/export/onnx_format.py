"""ONNX: the network exported by torch.export (`dynamo=True`), answered by onnxruntime on CPU.

The file has one input `images` float32 (N, C, H, W) in [0, 1] with a dynamic batch `N`, one
output `logits` (N, K), the weights inside the file (no external data) and the `cnnlab.*`
properties as `metadata_props`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cnnlab.atomic import write_bytes
from cnnlab.errors import ExportError
from cnnlab.export.extra import require
from cnnlab.export.files import example_input, quiet, unit_batches
from cnnlab.export.source import ExportSource

INPUT, OUTPUT = "images", "logits"
MIN_OPSET = 18  # the exporter's own opset; lower ones go through a version converter


def write_onnx(source: ExportSource, path: Path, opset: int) -> Path:
    """`source`'s network as a checked ONNX file at `path` with its properties."""
    props = source.metadata.props()
    what = f"run {source.loaded.path}"
    return onnx_file(source.network, source.metadata.input_shape, props, path, opset, what)


def onnx_file(
    network: torch.nn.Module,
    input_shape: tuple[int, int, int],
    props: dict[str, str],
    path: Path,
    opset: int,
    what: str = "the model",
) -> Path:
    """`network` (eval mode, [0, 1] images (N, C, H, W) -> logits) as a checked ONNX file."""
    require("onnx", "onnxscript")
    batch = torch.export.Dim("batch")
    try:
        with quiet():
            program = torch.onnx.export(
                network,
                (example_input(input_shape),),
                dynamo=True,
                verbose=False,
                input_names=[INPUT],
                output_names=[OUTPUT],
                opset_version=opset,
                dynamic_shapes=({0: batch},),
                external_data=False,
            )
    except Exception as error:  # a user's model may hold anything torch.export refuses
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ExportError(
            f"{what}: torch.onnx.export (opset {opset}) failed: {type(error).__name__}: {first}"
        ) from None
    return save_with_properties(program.model_proto, path, props)


def save_with_properties(proto: object, path: Path, props: dict[str, str]) -> Path:
    """Set `props` as the model's metadata_props, check the model and write it atomically."""
    import onnx

    del proto.metadata_props[:]
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    return write_bytes(path, proto.SerializeToString())


def onnx_logits(path: Path, images: np.ndarray) -> np.ndarray:
    """Logits (N, K) float32 of the ONNX file at `path` for images (N, C, H, W), onnxruntime CPU."""
    require("onnxruntime")
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    try:
        session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        chunks = [session.run([OUTPUT], {INPUT: batch})[0] for batch in unit_batches(images)]
    except Exception as error:  # onnxruntime's own exception types (Fail, InvalidGraph...)
        raise ExportError(f"onnxruntime cannot run {path}: {error}") from None
    return np.concatenate(chunks)
