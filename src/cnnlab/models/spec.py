"""A model from a layer spec: each layer's input width is inferred and every shape is checked.

The list must fit before anything trains: a layer that does not fit raises a `ModelError`
naming the layer index, the layer, its input shape and the arithmetic that failed. Only the
last `linear` may leave its width out; it defaults to the class count. Built layers are the
children `0, 1, 2, ...` of an `nn.Sequential`, so layer `i` of the spec is `model[i]` and the
`state_dict` keys equal those of the same `nn.Sequential` written by hand. See `spec_parse`
for the syntax.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from cnnlab.errors import ModelError
from cnnlab.models.blocks import Flatten
from cnnlab.models.spec_parse import LayerCall, Value, is_spec_file, load_spec

Shape = tuple[int, ...]  # (C, H, W) for an image, (F,) once flattened
_REQUIRED = "<required>"  # default marking an argument that must be given


@dataclass(frozen=True)
class _Site:
    """Where a layer sits in the spec: for its error messages and its defaults."""

    index: int
    call: LayerCall
    shape: Shape  # incoming, without the batch dimension
    num_classes: int
    is_last_linear: bool
    where: str  # prefix naming the spec file, or ""

    def error(self, what: str) -> ModelError:
        return ModelError(
            f"{self.where}spec layer {self.index} `{self.call}` with input shape "
            f"{self.shape}: {what}"
        )


@dataclass(frozen=True)
class Param:
    """One argument of a layer: its name, a check returning the typed value, its default."""

    name: str
    check: Callable[[Value], Value]  # raises ValueError(what was expected)
    default: Value = _REQUIRED

    def __str__(self) -> str:
        if self.default == _REQUIRED:
            return self.name
        plain = isinstance(self.default, bool) or self.default is None
        return f"{self.name}={str(self.default).lower() if plain else self.default}"


@dataclass(frozen=True)
class LayerKind:
    """A layer the spec language knows: its arguments and how it builds from the input shape."""

    params: tuple[Param, ...]
    build: Callable[[dict[str, Any], Shape, _Site], tuple[nn.Module, Shape]]


def _int_at_least(minimum: int) -> Callable[[Value], Value]:
    def check(value: Value) -> Value:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"an integer >= {minimum}")
        return value

    return check


def _optional_positive_int(value: Value) -> Value:
    return None if value is None else _int_at_least(1)(value)


def _pad(value: Value) -> Value:
    if value == "same":
        return value
    try:
        return _int_at_least(0)(value)
    except ValueError:
        raise ValueError("an integer >= 0 or 'same'") from None


def _rate(value: Value) -> Value:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError("a number in [0, 1)")
    return float(value)


def _number(value: Value) -> Value:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a number")
    return float(value)


def _flag(value: Value) -> Value:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _image(site: _Site) -> tuple[int, int, int]:
    """The incoming (C, H, W), or an error when the input was already flattened."""
    if len(site.shape) != 3:
        raise site.error(
            f"`{site.call.name}` needs an image input (C, H, W) but gets a flat vector; "
            "it cannot come after `flatten`"
        )
    C, H, W = site.shape
    return C, H, W


def _side(site: _Site, axis: str, size: int, k: int, stride: int, pad: int) -> int:
    """Output side 1 + floor((size + 2·pad − k)/stride), or an error showing the arithmetic."""
    out = 1 + (size + 2 * pad - k) // stride
    if out < 1:
        raise site.error(
            f"{axis}' = 1 + ({axis} + 2·pad − k)/stride = 1 + ({size} + {2 * pad} − {k})/{stride}"
            f" < 1: the {axis} side of the input is too small for this layer"
        )
    return out


def _conv(a: dict[str, Any], shape: Shape, site: _Site) -> tuple[nn.Module, Shape]:
    C, H, W = _image(site)
    k, stride = a["k"], a["stride"]
    pad = k // 2 if a["pad"] == "same" else a["pad"]
    out_shape = (a["out"], _side(site, "H", H, k, stride, pad), _side(site, "W", W, k, stride, pad))
    return nn.Conv2d(C, a["out"], k, stride=stride, padding=pad, bias=a["bias"]), out_shape


def _pool(kind: type[nn.Module]) -> Callable[..., tuple[nn.Module, Shape]]:
    def build(a: dict[str, Any], shape: Shape, site: _Site) -> tuple[nn.Module, Shape]:
        C, H, W = _image(site)
        k, pad = a["k"], a["pad"]
        stride = k if a["stride"] is None else a["stride"]
        if 2 * pad > k:
            raise site.error(f"pad={pad} must be at most half of k={k}")
        out_shape = (C, _side(site, "H", H, k, stride, pad), _side(site, "W", W, k, stride, pad))
        return kind(k, stride=stride, padding=pad), out_shape

    return build


def _gap(a: dict[str, Any], shape: Shape, site: _Site) -> tuple[nn.Module, Shape]:
    C, _, _ = _image(site)
    return nn.AdaptiveAvgPool2d(1), (C, 1, 1)


def _flatten(a: dict[str, Any], shape: Shape, site: _Site) -> tuple[nn.Module, Shape]:
    features = 1
    for size in shape:
        features *= size
    return Flatten(), (features,)


def _linear(a: dict[str, Any], shape: Shape, site: _Site) -> tuple[nn.Module, Shape]:
    if len(shape) != 1:
        raise site.error(
            f"`linear` needs a flat input (F,) but gets the image shape {shape}; "
            "add `flatten` before it"
        )
    out = a["out"]
    if out is None and not site.is_last_linear:
        raise site.error(
            "give this linear a width: only the last linear defaults to the class count"
        )
    out = site.num_classes if out is None else out
    return nn.Linear(shape[0], out), (out,)


def _batch_norm(a: dict[str, Any], shape: Shape, site: _Site) -> tuple[nn.Module, Shape]:
    return (nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])), shape


def _dropout2d(a: dict[str, Any], shape: Shape, site: _Site) -> tuple[nn.Module, Shape]:
    _image(site)
    return nn.Dropout2d(a["p"]), shape


def _same_shape(make: Callable[..., nn.Module], *names: str) -> Callable[..., Any]:
    """A layer that keeps its input shape, built as `make(*its arguments)`."""

    def build(a: dict[str, Any], shape: Shape, site: _Site) -> tuple[nn.Module, Shape]:
        return make(*(a[name] for name in names)), shape

    return build


_POOL_PARAMS = (
    Param("k", _int_at_least(1), 2),
    Param("stride", _optional_positive_int, None),
    Param("pad", _int_at_least(0), 0),
)
LAYERS: dict[str, LayerKind] = {
    "conv": LayerKind(
        (
            Param("out", _int_at_least(1)),
            Param("k", _int_at_least(1), 3),
            Param("stride", _int_at_least(1), 1),
            Param("pad", _pad, 0),
            Param("bias", _flag, True),
        ),
        _conv,
    ),
    "pool": LayerKind(_POOL_PARAMS, _pool(nn.MaxPool2d)),
    "avgpool": LayerKind(_POOL_PARAMS, _pool(nn.AvgPool2d)),
    "gap": LayerKind((), _gap),
    "flatten": LayerKind((), _flatten),
    "linear": LayerKind((Param("out", _optional_positive_int, None),), _linear),
    "bn": LayerKind((), _batch_norm),
    "dropout": LayerKind((Param("p", _rate, 0.5),), _same_shape(nn.Dropout, "p")),
    "dropout2d": LayerKind((Param("p", _rate, 0.5),), _dropout2d),
    "relu": LayerKind((), _same_shape(nn.ReLU)),
    "leaky_relu": LayerKind((Param("slope", _number, 0.01),), _same_shape(nn.LeakyReLU, "slope")),
    "elu": LayerKind((), _same_shape(nn.ELU)),
    "gelu": LayerKind((), _same_shape(nn.GELU)),
    "tanh": LayerKind((), _same_shape(nn.Tanh)),
    "sigmoid": LayerKind((), _same_shape(nn.Sigmoid)),
}
ALIASES: dict[str, str] = {
    "conv2d": "conv",
    "maxpool": "pool",
    "max_pool": "pool",
    "avg_pool": "avgpool",
    "global_avg_pool": "gap",
    "affine": "linear",
    "fc": "linear",
    "dense": "linear",
    "batchnorm": "bn",
    "batch_norm": "bn",
    "leakyrelu": "leaky_relu",
}


def _canonical(name: str) -> str:
    return ALIASES.get(name.lower(), name.lower())


def signature(name: str) -> str:
    """How a layer is written with all its arguments, e.g. 'conv(out, k=3, stride=1, ...)'."""
    params = LAYERS[_canonical(name)].params
    return f"{_canonical(name)}({', '.join(map(str, params))})" if params else _canonical(name)


def _bind(kind: LayerKind, site: _Site) -> dict[str, Any]:
    """The layer's arguments by name, checked and with defaults filled in."""
    call, names = site.call, [param.name for param in kind.params]
    takes = f"it is written {signature(call.name)}"
    if not names and (call.args or call.kwargs):
        raise site.error(f"`{call.name}` takes no arguments")
    if len(call.args) > len(names):
        raise site.error(
            f"takes at most {len(names)} positional arguments, got {len(call.args)}; {takes}"
        )
    given: dict[str, Value] = dict(zip(names, call.args, strict=False))
    for key, value in call.kwargs:
        if key not in names:
            raise site.error(f"unknown argument {key!r}; {takes}")
        if key in given:
            raise site.error(f"argument {key!r} is given twice")
        given[key] = value
    values: dict[str, Any] = {}
    for param in kind.params:
        if param.name not in given:
            if param.default == _REQUIRED:
                raise site.error(f"missing argument {param.name!r}; {takes}")
            values[param.name] = param.default
            continue
        try:
            values[param.name] = param.check(given[param.name])
        except ValueError as expected:
            raise site.error(
                f"argument {param.name}={given[param.name]!r} must be {expected}"
            ) from None
    return values


def build_spec(
    calls: Sequence[LayerCall], in_shape: tuple[int, int, int], num_classes: int, where: str = ""
) -> nn.Sequential:
    """An `nn.Sequential` from layer calls for inputs `in_shape` (C, H, W) and `num_classes`."""
    if not calls:
        raise ModelError(
            f"{where}the layer spec is empty; write e.g. 'conv(32, 3) relu flatten linear'"
        )
    linears = [i for i, call in enumerate(calls) if _canonical(call.name) == "linear"]
    shape: Shape = tuple(in_shape)
    modules: list[nn.Module] = []
    for index, call in enumerate(calls):
        site = _Site(index, call, shape, num_classes, bool(linears) and index == linears[-1], where)
        kind = LAYERS.get(_canonical(call.name))
        if kind is None:
            close = difflib.get_close_matches(call.name.lower(), [*LAYERS, *ALIASES], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise site.error(
                f"unknown layer {call.name!r}{hint}; known layers: {', '.join(sorted(LAYERS))}"
            )
        module, shape = kind.build(_bind(kind, site), shape, site)
        modules.append(module)
    if shape != (num_classes,):
        end = "`flatten` and `linear`" if len(shape) != 1 else "`linear` (width: the class count)"
        raise ModelError(
            f"{where}the layer spec ends with shape {shape} after layer {len(calls) - 1} "
            f"`{calls[-1]}`, but the model must output ({num_classes},) for {num_classes} "
            f"classes; end it with {end}"
        )
    return nn.Sequential(*modules)


def spec_model(
    in_shape: tuple[int, int, int], num_classes: int, *, spec: object = None
) -> nn.Module:
    """A model from `spec`: a .yaml file path, a compact string, or a YAML-style list."""
    if spec is None:
        raise ModelError(
            "model 'spec' needs the option spec=...: a .yaml file, a string such as "
            "'conv(32, 5, pad=2) relu pool(2) flatten linear', or a list of layers"
        )
    where = f"{spec}: " if is_spec_file(spec) else ""
    return build_spec(load_spec(spec), in_shape, num_classes, where)
