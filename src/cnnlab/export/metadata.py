"""The `metadata_props` of an exported ONNX file: what a caller needs to feed it and read it.

Every value is a string (JSON where structured), under keys `cnnlab.<field>`. This module
imports neither torch nor onnx, so the torch-free predict path can read a file's metadata.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from cnnlab.data.input_stats import InputStats, stats_from_dict
from cnnlab.errors import ModelError

FORMAT_VERSION = "1"  # bumped when a key changes meaning
PREFIX = "cnnlab."
INPUT_RANGE = "[0, 1]"  # pixels as uint8 / 255; mean/std are applied inside the graph
RESIZE = "crop"  # shorter side scaled to fit, then centre-cropped (what `predict RUN` does)
CHANNEL_ORDERS = {1: "L", 3: "RGB"}  # channels -> order
ENGINES = ("torch", "numpy")
REQUIRED = (
    "format_version", "version", "run", "class_names", "input_shape", "channel_order",
    "input_range", "mean", "std", "resize", "tta_flip", "engine",
)  # fmt: skip
OPTIONAL = ("input_stats",)


class MetadataError(ModelError):
    """An ONNX file's cnnlab metadata is missing or malformed."""


@dataclass(frozen=True)
class ExportMetadata:
    """The cnnlab metadata of an exported model, typed."""

    format_version: str
    version: str  # cnnlab's version that exported it
    run: str  # the run directory's name
    class_names: tuple[str, ...]  # index = class index
    input_shape: tuple[int, int, int]  # (C, H, W)
    channel_order: str  # "L" or "RGB"
    input_range: str  # "[0, 1]"
    mean: tuple[float, ...]  # per channel, informational: applied in-graph
    std: tuple[float, ...]
    resize: str  # "crop"
    tta_flip: bool  # already applied in-graph when true
    input_stats: InputStats | None  # the training images' statistics; None: the run had none
    engine: str  # "torch" or "numpy"

    def props(self) -> dict[str, str]:
        """These properties as `cnnlab.*` metadata_props (the inverse of `read_metadata`)."""
        return metadata_props(
            version=self.version, run=self.run, class_names=self.class_names,
            input_shape=self.input_shape, mean=self.mean, std=self.std, tta_flip=self.tta_flip,
            engine=self.engine, input_stats=self.input_stats,
        )  # fmt: skip


def metadata_props(
    *,
    version: str,
    run: str,
    class_names: tuple[str, ...] | list[str],
    input_shape: tuple[int, int, int],
    mean: tuple[float, ...] | list[float],
    std: tuple[float, ...] | list[float],
    tta_flip: bool,
    engine: str,
    input_stats: InputStats | None = None,
) -> dict[str, str]:
    """The `cnnlab.*` metadata_props of an export (every value a string); checked as read back."""
    C = int(input_shape[0])
    props = {
        "format_version": FORMAT_VERSION,
        "version": str(version),
        "run": str(run),
        "class_names": json.dumps([str(name) for name in class_names]),
        "input_shape": json.dumps([int(n) for n in input_shape]),
        "channel_order": CHANNEL_ORDERS.get(C, f"{C} channels"),
        "input_range": INPUT_RANGE,
        "mean": json.dumps([float(v) for v in mean]),
        "std": json.dumps([float(v) for v in std]),
        "resize": RESIZE,
        "tta_flip": "true" if tta_flip else "false",
        "engine": str(engine),
    }
    if input_stats is not None:
        props["input_stats"] = json.dumps(asdict(input_stats))
    props = {PREFIX + key: value for key, value in props.items()}
    read_metadata(props)  # what is written must read back
    return props


def _json(props: dict[str, str], key: str, expected: str) -> Any:
    try:
        return json.loads(props[PREFIX + key])
    except (TypeError, ValueError):
        raise _bad(props, key, expected) from None


def _bad(props: dict[str, str], key: str, expected: str) -> MetadataError:
    value = props[PREFIX + key]
    shown = value if len(value) <= 80 else value[:77] + "..."
    return MetadataError(f"metadata {PREFIX}{key}: expected {expected}, got {shown!r}")


def _numbers(props: dict[str, str], key: str, count: int) -> tuple[float, ...]:
    expected = f"a JSON list of {count} {'positive ' if key == 'std' else ''}numbers"
    value = _json(props, key, expected)
    if not (
        isinstance(value, list)
        and len(value) == count
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and (key != "std" or all(v > 0 for v in value))
    ):
        raise _bad(props, key, expected)
    return tuple(float(v) for v in value)


def _shape(props: dict[str, str]) -> tuple[int, int, int]:
    expected = "a JSON list [C, H, W] of positive integers with C 1 or 3"
    value = _json(props, "input_shape", expected)
    if not (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        and value[0] in CHANNEL_ORDERS
    ):
        raise _bad(props, "input_shape", expected)
    return (value[0], value[1], value[2])


def _names(props: dict[str, str]) -> tuple[str, ...]:
    expected = "a non-empty JSON list of distinct class names (strings)"
    value = _json(props, "class_names", expected)
    if not (
        isinstance(value, list)
        and value
        and all(isinstance(v, str) for v in value)
        and len(set(value)) == len(value)
    ):
        raise _bad(props, "class_names", expected)
    return tuple(value)


def _choice(props: dict[str, str], key: str, allowed: tuple[str, ...]) -> str:
    if props[PREFIX + key] not in allowed:
        raise _bad(props, key, " or ".join(repr(a) for a in allowed))
    return props[PREFIX + key]


def read_metadata(props: dict[str, str]) -> ExportMetadata:
    """The typed metadata of an ONNX file's `metadata_props`; missing or malformed keys raise
    a MetadataError naming the key and what was expected."""
    missing = [PREFIX + key for key in REQUIRED if PREFIX + key not in props]
    if missing:
        raise MetadataError(
            f"metadata: missing {', '.join(missing)}; expected a model written by "
            f"`cnnlab export` (format {FORMAT_VERSION})"
        )
    not_text = [key for key, value in props.items() if not isinstance(value, str)]
    if not_text:
        raise MetadataError(f"metadata {not_text[0]}: expected a string value")
    _choice(props, "format_version", (FORMAT_VERSION,))
    shape = _shape(props)
    C = shape[0]
    stats = None
    if PREFIX + "input_stats" in props:
        expected = "a JSON object of input_stats.json"
        stats = stats_from_dict(
            _json(props, "input_stats", expected), f"metadata {PREFIX}input_stats"
        )
    return ExportMetadata(
        format_version=props[PREFIX + "format_version"],
        version=props[PREFIX + "version"],
        run=props[PREFIX + "run"],
        class_names=_names(props),
        input_shape=shape,
        channel_order=_choice(props, "channel_order", (CHANNEL_ORDERS[C],)),
        input_range=_choice(props, "input_range", (INPUT_RANGE,)),
        mean=_numbers(props, "mean", C),
        std=_numbers(props, "std", C),
        resize=_choice(props, "resize", (RESIZE,)),
        tta_flip=_choice(props, "tta_flip", ("true", "false")) == "true",
        input_stats=stats,
        engine=_choice(props, "engine", ENGINES),
    )
