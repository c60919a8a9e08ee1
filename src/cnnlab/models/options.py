"""Validation of builder options: each check names the model and option and says what was expected.

Options may arrive typed (Python API, YAML) or as text (`--option widths=32,64`), so the
checks accept the obvious text forms and return the typed value.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnnlab.errors import ModelError

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _fail(model: str, option: str, expected: str, value: object) -> ModelError:
    return ModelError(f"model {model!r}: option {option!r} must be {expected}, got {value!r}")


def positive_int(model: str, option: str, value: object) -> int:
    """`value` as an int >= 1."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(model, option, "a positive integer", value)
    return value


def non_negative_int(model: str, option: str, value: object) -> int:
    """`value` as an int >= 0."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(model, option, "an integer >= 0", value)
    return value


def int_tuple(model: str, option: str, value: object, allow_empty: bool = False) -> tuple[int, ...]:
    """`value` as a tuple of positive ints; accepts an int, a sequence or text like '32,64'."""
    expected = "a list of positive integers" + (" (may be empty)" if allow_empty else "")
    if isinstance(value, str):
        parts = [part.strip() for part in value.replace("(", "").replace(")", "").split(",")]
        value = [part for part in parts if part]
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise _fail(model, option, expected, value)
    try:
        items = tuple(positive_int(model, option, item) for item in value)
    except ModelError:
        raise _fail(model, option, expected, value) from None
    if not items and not allow_empty:
        raise _fail(model, option, expected, value)
    return items


def probability(model: str, option: str, value: object) -> float:
    """`value` as a float in [0, 1) (a dropout rate)."""
    try:
        rate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _fail(model, option, "a number in [0, 1)", value) from None
    if isinstance(value, bool) or not 0.0 <= rate < 1.0:
        raise _fail(model, option, "a number in [0, 1)", value)
    return rate


def flag(model: str, option: str, value: object) -> bool:
    """`value` as a bool; accepts true/false, yes/no, on/off, 1/0 as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise _fail(model, option, "true or false", value)


def choice(model: str, option: str, value: object, allowed: Sequence[str]) -> str:
    """`value` as one of `allowed`."""
    if not isinstance(value, str) or value not in allowed:
        raise _fail(model, option, "one of " + ", ".join(allowed), value)
    return value
