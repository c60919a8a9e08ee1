"""int8: the ONNX file quantized by onnxruntime (static, QDQ), calibrated on training images.

Weights and activations become int8 with scales measured on up to `CALIBRATION` training
images, about 4x smaller. Its accuracy change and agreement with the run are reported in
export.json, never a failure: int8 is expected to differ a little.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cnnlab.errors import ExportError
from cnnlab.export.extra import require
from cnnlab.export.files import quiet, unit_batches
from cnnlab.export.onnx_format import INPUT

CALIBRATION = 256  # training images the activation ranges are measured on
QUANTIZE = ("int8",)  # the --quantize values


class _Calibration:
    """onnxruntime's CalibrationDataReader protocol over batches of training images."""

    def __init__(self, images: np.ndarray) -> None:
        self._batches: Iterator[np.ndarray] = unit_batches(images)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT: batch}


def quantize_int8(onnx_path: Path, out_path: Path, training_images: np.ndarray) -> Path:
    """`onnx_path` quantized to int8 (weights and activations) at `out_path`."""
    require("onnx", "onnxruntime")
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    calibration = training_images[:CALIBRATION]
    try:
        with quiet():
            quantize_static(
                str(onnx_path),
                str(out_path),
                _Calibration(calibration),
                quant_format=QuantFormat.QDQ,
                weight_type=QuantType.QInt8,
                activation_type=QuantType.QInt8,
            )
    except Exception as error:  # onnxruntime's quantizer raises plain exceptions of any type
        raise ExportError(f"int8 quantization of {onnx_path} failed: {error}") from None
    quantized = onnx.load(str(out_path))  # the quantizer keeps no metadata_props: copy them
    source = onnx.load(str(onnx_path), load_external_data=False)
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(source.metadata_props)
    onnx.save_model(quantized, str(out_path))
    return Path(out_path)


def calibration_note(training_images: np.ndarray) -> str:
    """How the int8 file was made, for export.json."""
    count = min(CALIBRATION, len(training_images))
    return (
        f"onnxruntime quantize_static, QDQ, int8 weights and activations, {count} training images"
    )
