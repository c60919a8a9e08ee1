"""`cnnlab predict MODEL.onnx`: an exported model's predictions with onnxruntime, NumPy and
Pillow only, written as `cnnlab predict RUN` writes them (same reading, check and formats).

No torch on this path: the ONNX file holds the normalisation (and flip averaging), its
`cnnlab.*` metadata the class names, input shape and training images' statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.errors import CnnlabError, DataError, ModelError
from cnnlab.evaluate.predicting import (
    FORMATS,
    Predicted,
    check_format,
    check_inputs,
    image_path,
    read_images,
    unlabelled,
)
from cnnlab.export.metadata import ExportMetadata, read_metadata

INPUT, OUTPUT = "images", "logits"  # the graph's input and output names (the export contract)
BATCH = 256  # images per onnxruntime call


@dataclass(frozen=True)
class OnnxModel:
    """An exported model ready to run: its onnxruntime session and its cnnlab metadata."""

    path: Path
    session: Any  # onnxruntime.InferenceSession
    metadata: ExportMetadata


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ModelError(
            "predicting with an ONNX file needs onnxruntime: pip install onnxruntime"
        ) from None
    return onnxruntime


def _runtime_errors() -> tuple[type[Exception], ...]:
    """The exceptions onnxruntime raises for a bad file or a failed run."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = ("Fail", "InvalidArgument", "NoSuchFile", "NoModel", "EngineError",
             "RuntimeException", "InvalidProtobuf", "InvalidGraph", "NotImplemented")  # fmt: skip
    return (OSError, *(getattr(state, name) for name in names if hasattr(state, name)))


def load_onnx(path: Path) -> OnnxModel:
    """The ONNX file at `path` with its metadata checked against its one input and output."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"model {path}: no such file; expected an ONNX file from `cnnlab export`")
    onnxruntime = _onnxruntime()
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except _runtime_errors() as error:
        raise ModelError(f"model {path}: not a readable ONNX file: {error}") from None
    try:
        metadata = read_metadata(dict(session.get_modelmeta().custom_metadata_map))
    except CnnlabError as error:  # a missing or malformed cnnlab.* key, named
        raise ModelError(f"model {path}: {error}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if [i.name for i in inputs] != [INPUT] or OUTPUT not in [o.name for o in outputs]:
        raise ModelError(
            f"model {path}: expected one input {INPUT!r} and an output {OUTPUT!r}, got inputs "
            f"{[i.name for i in inputs]} and outputs {[o.name for o in outputs]}"
        )
    shape = inputs[0].shape[1:]  # (C, H, W): ints, or names where dynamic
    pairs = zip(shape, metadata.input_shape, strict=False)
    if len(shape) != 3 or any(isinstance(have, int) and have != want for have, want in pairs):
        raise ModelError(
            f"model {path}: input {INPUT!r} has shape {inputs[0].shape}, but its metadata "
            f"cnnlab.input_shape says (N, {', '.join(map(str, metadata.input_shape))})"
        )
    return OnnxModel(path, session, metadata)


def onnx_probabilities(model: OnnxModel, images: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
    """Softmax probabilities (N, K) float64 of (N, C, H, W) images, uint8 or float in [0, 1]."""
    K = len(model.metadata.class_names)
    chunks = []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size]
        if batch.dtype == np.uint8:
            x = batch.astype(np.float32) / np.float32(255)  # (B, C, H, W) in [0, 1]
        else:
            x = np.ascontiguousarray(batch, dtype=np.float32)
        try:
            (logits,) = model.session.run([OUTPUT], {INPUT: x})  # (B, K)
        except _runtime_errors() as error:
            raise ModelError(f"model {model.path}: onnxruntime failed: {error}") from None
        if logits.shape != (len(x), K):
            raise ModelError(
                f"model {model.path}: output {OUTPUT!r} has shape {logits.shape}, expected "
                f"({len(x)}, {K}) for {K} classes (cnnlab.class_names)"
            )
        z = logits.astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        chunks.append(e / e.sum(axis=1, keepdims=True))
    return np.concatenate(chunks)


def predict_onnx(
    model: OnnxModel,
    images: np.ndarray | Path | str | Sequence[Path | str],
    *,
    invert: bool = False,
    batch_size: int = BATCH,
) -> Predicted:
    """Predictions of the ONNX model for an array or image files, checked against the
    training images' statistics in its metadata (when the run had them)."""
    meta = model.metadata
    ids, array, sizes = read_images(images, meta.input_shape, invert)  # (N, C, H, W)
    unchecked = f"model {model.path} has no cnnlab.input_stats metadata (its run had none)"
    found, notes = check_inputs(meta.input_stats, array, ids, sizes, invert, unchecked)
    probabilities = onnx_probabilities(model, array, batch_size)  # (N, K)
    return Predicted(unlabelled(ids, probabilities, meta.class_names), None, found, notes)


def predict_onnx_to_csv(
    model_path: Path,
    source: str | Path,
    out: Path,
    *,
    invert: bool = False,
    output_format: str = "predictions",
) -> Predicted:
    """Write the ONNX model's predictions for an image file or a folder of images to `out`,
    as `output_format` (a key of `FORMATS`: predictions.csv's columns, or a leaderboard)."""
    check_format(output_format)
    path = image_path(source)
    if path is None:
        raise DataError(
            f"images {source}: no such file or folder; with an ONNX file give an image file or "
            f"a folder of images (a dataset's test split needs the run: cnnlab predict RUN "
            f"--images {source})"
        )
    done = predict_onnx(load_onnx(model_path), path, invert=invert)
    FORMATS[output_format](Path(out), done.predictions)
    return done
