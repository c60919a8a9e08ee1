"""Reading a layer spec: a compact string, a YAML list, or a YAML file, into `LayerCall`s.

Compact form (a real tokenizer and parser, never `eval`):

    conv(32, 5, pad=2) relu pool(2) flatten linear(1024) relu dropout(0.3) linear

Layers are separated by spaces, commas, newlines, `-`, `–`, `->` or `|`. Arguments are
numbers, `true`/`false`/`none`, or bare words (`pad=same`). YAML form, a list whose items
are compact strings or one-key mappings:

    - conv: {out: 32, k: 5, pad: 2}      # keyword arguments
    - pool: 2                             # one positional argument
    - "dropout(0.3)"
    - relu                                # no arguments

A spec file holds such a list, a compact string, or a mapping `{layers: ..., description: ...}`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from cnnlab.errors import ModelError

Value = int | float | bool | str | None
SPEC_SUFFIXES = (".yaml", ".yml")
FILE_KEYS = ("layers", "description")

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[(),=])
  | (?P<sep>->|→|[-–—|;])
    """,
    re.VERBOSE,
)
_WORDS: dict[str, Value] = {"true": True, "false": False, "none": None, "null": None}
# Larger integers are no layer size; torch could not even hold them (it takes int64).
MAX_INTEGER = 2**31 - 1


@dataclass(frozen=True)
class LayerCall:
    """One layer as written: its name and its positional and keyword arguments."""

    name: str
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()

    def __str__(self) -> str:
        parts = [_render(v) for v in self.args] + [f"{k}={_render(v)}" for k, v in self.kwargs]
        return f"{self.name}({', '.join(parts)})" if parts else self.name


@dataclass(frozen=True)
class _Token:
    kind: str  # num, name, punct, sep
    text: str
    pos: int  # offset in the source text


def _render(value: Value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    return str(value)


def _locate(text: str, pos: int) -> str:
    """'line L, column C' plus the line with a caret under `pos`."""
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    line_no = text.count("\n", 0, pos) + 1
    column = pos - line_start
    return f"line {line_no}, column {column + 1}:\n  {line}\n  {' ' * column}^"


def _tokenize(text: str, where: str = "") -> list[_Token]:
    """Split `text` into tokens; an unknown character raises with its position."""
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ModelError(
                f"{where}layer spec: unexpected character {text[pos]!r} at {_locate(text, pos)}"
            )
        if match.lastgroup != "ws":
            tokens.append(_Token(match.lastgroup or "", match.group(), pos))
        pos = match.end()
    return tokens


def _value(token: _Token, text: str, where: str) -> Value:
    """A token's value: int, float, bool, None or a bare word."""
    if token.kind == "num":
        if any(c in token.text for c in ".eE"):
            return float(token.text)
        value = int(token.text)
        if abs(value) > MAX_INTEGER:
            raise ModelError(
                f"{where}layer spec: the integer {token.text} is too large (at most "
                f"{MAX_INTEGER}) at {_locate(text, token.pos)}"
            )
        return value
    return _WORDS.get(token.text.lower(), token.text)


def _parse_args(
    text: str, tokens: list[_Token], i: int, index: int, where: str
) -> tuple[int, tuple[Value, ...], tuple[tuple[str, Value], ...]]:
    """Parse `arg, key=value, ...)` from tokens[i]; returns the index after `)` and the args."""
    args: list[Value] = []
    kwargs: list[tuple[str, Value]] = []

    def fail(what: str, pos: int) -> ModelError:
        return ModelError(f"{where}layer spec, layer {index}: {what} at {_locate(text, pos)}")

    while True:
        if i >= len(tokens):
            raise fail("missing ')'", len(text))
        token = tokens[i]
        if token.text == ")" and not args and not kwargs:
            return i + 1, (), ()
        if token.kind not in ("num", "name"):
            raise fail(f"expected an argument, got {token.text!r}", token.pos)
        if i + 1 < len(tokens) and tokens[i + 1].text == "=":
            if token.kind != "name":
                raise fail(f"{token.text!r} cannot be an argument name", token.pos)
            if i + 2 >= len(tokens) or tokens[i + 2].kind not in ("num", "name"):
                raise fail(f"expected a value after '{token.text}='", tokens[i + 1].pos)
            kwargs.append((token.text, _value(tokens[i + 2], text, where)))
            i += 3
        elif kwargs:
            raise fail("positional argument after a keyword argument", token.pos)
        else:
            args.append(_value(token, text, where))
            i += 1
        if i >= len(tokens):
            raise fail("missing ')'", len(text))
        if tokens[i].text == ")":
            return i + 1, tuple(args), tuple(kwargs)
        if tokens[i].text != ",":
            raise fail(f"expected ',' or ')', got {tokens[i].text!r}", tokens[i].pos)
        i += 1


def parse_spec(text: str, first_index: int = 0, where: str = "") -> list[LayerCall]:
    """Parse a compact spec string into layer calls; `first_index` numbers layers in errors."""
    tokens = _tokenize(text, where)
    calls: list[LayerCall] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        index = first_index + len(calls)
        if token.kind == "sep" or token.text == ",":
            i += 1
            continue
        if token.kind != "name":
            raise ModelError(
                f"{where}layer spec, layer {index}: expected a layer name, got {token.text!r} "
                f"at {_locate(text, token.pos)}"
            )
        i += 1
        args: tuple[Value, ...] = ()
        kwargs: tuple[tuple[str, Value], ...] = ()
        if i < len(tokens) and tokens[i].text == "(":
            i, args, kwargs = _parse_args(text, tokens, i + 1, index, where)
        calls.append(LayerCall(token.text, args, kwargs))
    return calls


def _scalar(value: object, where: str) -> Value:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
        raise ModelError(f"{where}: the integer {value} is too large (at most {MAX_INTEGER})")
    if value is None or isinstance(value, int | float | str):
        return value
    raise ModelError(
        f"{where}: argument values must be numbers, words or true/false, got {value!r}"
    )


def _calls_from_item(item: object, index: int, where: str) -> list[LayerCall]:
    """One YAML list item (a compact string or a one-key mapping) as layer calls."""
    if isinstance(item, str):
        return parse_spec(item, first_index=index, where=where)
    if isinstance(item, dict) and len(item) == 1:
        ((name, value),) = item.items()
        here = f"{where}layer {index} ({name})"
        if not isinstance(name, str):
            raise ModelError(f"{here}: a layer name must be a word, got {name!r}")
        if value is None:
            return [LayerCall(name)]
        if isinstance(value, dict):
            kwargs = tuple((str(k), _scalar(v, here)) for k, v in value.items())
            return [LayerCall(name, kwargs=kwargs)]
        if isinstance(value, list):
            return [LayerCall(name, args=tuple(_scalar(v, here) for v in value))]
        return [LayerCall(name, args=(_scalar(value, here),))]
    raise ModelError(
        f"{where}layer {index}: expected a layer such as 'conv(32, 5)' or "
        f"{{conv: {{out: 32, k: 5}}}}, got {item!r}"
    )


def calls_from_list(items: Sequence[object], where: str = "") -> list[LayerCall]:
    """Layer calls from a YAML-style list; `where` (e.g. 'x.yaml: ') prefixes error messages."""
    calls: list[LayerCall] = []
    for item in items:
        calls.extend(_calls_from_item(item, len(calls), where))
    return calls


def is_spec_file(name: object) -> bool:
    """Whether `name` names a spec file (by its .yaml / .yml suffix)."""
    return isinstance(name, str | os.PathLike) and str(name).lower().endswith(SPEC_SUFFIXES)


def read_spec_file(path: str | os.PathLike[str]) -> list[LayerCall]:
    """Layer calls from a YAML spec file; a missing file or bad YAML names the file."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ModelError(f"cannot read layer spec file {str(path)!r}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ModelError(f"layer spec file {str(path)!r} is not valid YAML: {error}") from None
    where = f"{path}: "
    if isinstance(document, dict):
        unknown = sorted(set(map(str, document)) - set(FILE_KEYS))
        if unknown or "layers" not in document:
            raise ModelError(
                f"{where}a spec mapping needs the key 'layers' (allowed keys: "
                f"{', '.join(FILE_KEYS)}); unknown: {', '.join(unknown) or 'none'}"
            )
        document = document["layers"]
    if isinstance(document, str):
        return parse_spec(document, where=where)
    if isinstance(document, list):
        return calls_from_list(document, where)
    raise ModelError(f"{where}expected a list of layers, got {type(document).__name__}")


def load_spec(source: object) -> list[LayerCall]:
    """Layer calls from a spec file path, a compact string, or a YAML-style list."""
    if isinstance(source, list | tuple):
        return calls_from_list(source)
    if is_spec_file(source):
        return read_spec_file(source)  # type: ignore[arg-type]
    if isinstance(source, str):
        return parse_spec(source)
    raise ModelError(
        f"a layer spec must be a .yaml file, a string like 'conv(32,5) relu pool(2) flatten "
        f"linear' or a list of layers, got {source!r}"
    )
