"""What an exported model says about itself: the `cnnlab.*` string properties of its file.

ONNX keeps them as `metadata_props`, TorchScript and safetensors as a JSON object of the same
keys (README.md, "Export"). This module imports neither torch nor onnx, so
the torch-free predict path can read a file's properties with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cnnlab.errors import ExportError

FORMAT_VERSION = "1"  # bumped when a key changes meaning
PREFIX = "cnnlab."
CHANNEL_ORDERS = {1: "L", 3: "RGB"}  # channels -> the PIL mode the images are converted to
INPUT_RANGE = (0, 1)  # pixels scaled to [0, 1] (uint8 / 255); mean/std are applied in-graph
RESIZE = "crop"  # shorter side scaled to fit, then centre-cropped (as `cnnlab predict` does)
ENGINES = ("torch", "numpy")


@dataclass(frozen=True)
class ExportMetadata:
    """The properties of an exported model, typed (see the module docstring for the keys)."""

    version: str  # cnnlab's version that exported it
    run: str  # the run directory's name
    class_names: tuple[str, ...]  # index = class index
    input_shape: tuple[int, int, int]  # (C, H, W)
    channel_order: str  # "L" or "RGB"
    mean: tuple[float, ...]  # per channel, informational: applied in-graph
    std: tuple[float, ...]
    tta_flip: bool  # the graph already averages each image with its mirror
    engine: str  # "torch" or "numpy"
    input_stats: dict[str, Any] | None = None  # the run's input_stats.json, when it has one
    input_range: tuple[int, int] = INPUT_RANGE
    resize: str = RESIZE
    format_version: str = FORMAT_VERSION


def channel_order(channels: int) -> str:
    """ "L" for one channel, "RGB" for three; anything else cannot be fed from image files."""
    if channels not in CHANNEL_ORDERS:
        raise ExportError(
            f"an exported model takes 1 (L) or 3 (RGB) channels; this run takes {channels}"
        )
    return CHANNEL_ORDERS[channels]


def metadata_props(metadata: ExportMetadata) -> dict[str, str]:
    """`cnnlab.<key>` -> string value (JSON for lists, objects and the input range)."""
    props = {
        "format_version": metadata.format_version,
        "version": metadata.version,
        "run": metadata.run,
        "class_names": json.dumps(list(metadata.class_names)),
        "input_shape": json.dumps(list(metadata.input_shape)),
        "channel_order": metadata.channel_order,
        "input_range": json.dumps(list(metadata.input_range)),
        "mean": json.dumps(list(metadata.mean)),
        "std": json.dumps(list(metadata.std)),
        "resize": metadata.resize,
        "tta_flip": "true" if metadata.tta_flip else "false",
        "engine": metadata.engine,
    }
    if metadata.input_stats is not None:
        props["input_stats"] = json.dumps(metadata.input_stats)
    return {PREFIX + key: value for key, value in props.items()}


def _json(props: dict[str, str], key: str, kind: type) -> Any:
    """The JSON value of `cnnlab.<key>`, checked to be a `kind`."""
    try:
        value = json.loads(props[PREFIX + key])
    except json.JSONDecodeError as error:
        raise ExportError(f"model property {PREFIX}{key} is not valid JSON: {error}") from None
    if not isinstance(value, kind):
        raise ExportError(f"model property {PREFIX}{key} must be a JSON {kind.__name__}")
    return value


def read_metadata(props: dict[str, str]) -> ExportMetadata:
    """The typed properties of an exported file; missing or malformed ones raise naming them."""
    required = ("format_version", "version", "run", "class_names", "input_shape")
    required += ("channel_order", "input_range", "mean", "std", "resize", "tta_flip", "engine")
    missing = [PREFIX + key for key in required if PREFIX + key not in props]
    if missing:
        raise ExportError(f"not a cnnlab export: model properties {', '.join(missing)} are missing")
    if props[PREFIX + "format_version"] != FORMAT_VERSION:
        raise ExportError(
            f"model property {PREFIX}format_version is {props[PREFIX + 'format_version']!r}; "
            f"this cnnlab reads version {FORMAT_VERSION}"
        )
    shape = _json(props, "input_shape", list)
    if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ExportError(f"model property {PREFIX}input_shape must be [C, H, W], got {shape}")
    flip = props[PREFIX + "tta_flip"]
    engine = props[PREFIX + "engine"]
    if flip not in ("true", "false") or engine not in ENGINES:
        raise ExportError(
            f"model properties {PREFIX}tta_flip must be true or false and {PREFIX}engine one "
            f"of {', '.join(ENGINES)}; got {flip!r} and {engine!r}"
        )
    stats = _json(props, "input_stats", dict) if PREFIX + "input_stats" in props else None
    return ExportMetadata(
        version=props[PREFIX + "version"],
        run=props[PREFIX + "run"],
        class_names=tuple(str(name) for name in _json(props, "class_names", list)),
        input_shape=(shape[0], shape[1], shape[2]),
        channel_order=props[PREFIX + "channel_order"],
        mean=tuple(float(v) for v in _json(props, "mean", list)),
        std=tuple(float(v) for v in _json(props, "std", list)),
        tta_flip=flip == "true",
        engine=engine,
        input_stats=stats,
        input_range=tuple(_json(props, "input_range", list)),
        resize=props[PREFIX + "resize"],
        format_version=props[PREFIX + "format_version"],
    )
