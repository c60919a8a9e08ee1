"""Per-layer summary of a model: output shape, parameters and multiply-accumulates (MACs).

One forward pass of a single zero image runs in eval and inference mode with hooks on the
leaf modules, on the model's own device (a model on the `meta` device costs no arithmetic).
The model is left as it was (mode, parameters, buffers). MACs count per image: conv and
linear as usual (bias not counted), normalisation one per output element, average pooling
one per input element, everything else zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.errors import ModelError

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm)
_NORM += (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)
_AVG_POOL = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_AVG_POOL += (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
OTHER_PARAMETERS = "(other parameters)"  # row for parameters of modules the forward never ran


@dataclass(frozen=True)
class LayerRow:
    """One leaf layer's call: output shape without the batch dimension, params, MACs per image."""

    name: str
    type: str
    output_shape: tuple[int, ...] | None
    params: int  # counted on the layer's first call only, so the column sums to the total
    trainable: int  # of `params`, those with requires_grad
    macs: int


def _macs(module: nn.Module, inputs: tuple[object, ...], output: torch.Tensor) -> int:
    """Multiply-accumulates of one call on a batch of one image."""
    x = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
    if isinstance(module, _CONV):
        per_output = (module.in_channels // module.groups) * math.prod(module.kernel_size)
        return output.numel() * per_output
    if isinstance(module, _CONV_T) and x is not None:
        per_input = (module.out_channels // module.groups) * math.prod(module.kernel_size)
        return x.numel() * per_input
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, nn.Bilinear):
        return output.numel() * module.in1_features * module.in2_features
    if isinstance(module, _NORM):
        return output.numel()
    if isinstance(module, _AVG_POOL) and x is not None:
        return x.numel()
    return 0


def _first_tensor(value: object) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, tuple | list):
        return next((t for t in map(_first_tensor, value) if t is not None), None)
    return None


def _record(model: nn.Module, in_shape: tuple[int, ...]) -> list[LayerRow]:
    """Rows from one forward pass with hooks on every leaf module."""
    rows: list[LayerRow] = []
    leaves = [(n, m) for n, m in model.named_modules() if next(m.children(), None) is None]
    unseen = {  # (params, trainable) of each leaf, taken by its first call
        name: (
            sum(p.numel() for p in module.parameters(recurse=False)),
            sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad),
        )
        for name, module in leaves
    }

    def hook(name: str) -> Callable[..., None]:
        def record(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
            tensor = _first_tensor(output)
            params, trainable = unseen.pop(name, (0, 0))  # counted on the first call only
            rows.append(
                LayerRow(
                    name=name or type(model).__name__,
                    type=type(module).__name__,
                    output_shape=None if tensor is None else tuple(tensor.shape[1:]),
                    params=params,
                    trainable=trainable,
                    macs=0 if tensor is None else _macs(module, inputs, tensor),
                )
            )

        return record

    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    x = torch.zeros((1, *in_shape), device=device)  # (1, C, H, W)
    if first is not None and first.is_floating_point():
        x = x.to(first.dtype)
    handles = [module.register_forward_hook(hook(name)) for name, module in leaves]
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return rows


def summarize(model: nn.Module, in_shape: tuple[int, ...]) -> list[LayerRow]:
    """Rows for every leaf-layer call of `model` on one (C, H, W) image, in call order."""
    modes = {module: module.training for module in model.modules()}
    model.eval()  # batch norm on a single image, and no running-statistics updates
    try:
        rows = _record(model, tuple(in_shape))
    except (RuntimeError, ValueError, TypeError, IndexError, NotImplementedError) as error:
        raise ModelError(
            f"{type(model).__name__} does not run on input shape {tuple(in_shape)}: "
            f"{type(error).__name__}: {error}"
        ) from error
    finally:
        for module, training in modes.items():
            module.training = training
    counted = sum(row.params for row in rows)
    total = sum(p.numel() for p in model.parameters())
    if counted < total:
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        trainable -= sum(row.trainable for row in rows)
        rows.append(LayerRow(OTHER_PARAMETERS, "", None, total - counted, trainable, 0))
    return rows


def totals(rows: list[LayerRow]) -> tuple[int, int, int]:
    """(parameters, trainable parameters, MACs per image) over all rows."""
    return (
        sum(row.params for row in rows),
        sum(row.trainable for row in rows),
        sum(row.macs for row in rows),
    )


def format_shape(shape: tuple[int, ...] | None) -> str:
    """'32x14x14' for (32, 14, 14); '-' for no tensor output."""
    return "-" if shape is None else "x".join(map(str, shape))


def human(count: int) -> str:
    """1234567 -> '1.23 M'; 1820000000 -> '1.82 G'."""
    for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= factor:
            return f"{count / factor:.2f} {unit}"
    return str(count)


def _table(rows: list[LayerRow]) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, body cells and totals line shared by the text and Markdown forms."""
    header = ["layer", "type", "output shape", "params", "MACs"]
    body = [
        [row.name, row.type, format_shape(row.output_shape), f"{row.params:,}", f"{row.macs:,}"]
        for row in rows
    ]
    params, trainable, macs = totals(rows)
    footer = ["total", "", "", f"{params:,}", f"{macs:,}"]
    notes = [
        f"parameters: {params:,} ({human(params)}), trainable: {trainable:,}",
        f"multiply-accumulates per image: {macs:,} ({human(macs)})",
    ]
    return header, [*body, footer], notes


def format_summary(rows: list[LayerRow]) -> str:
    """An aligned text table of the rows with a totals line."""
    header, body, notes = _table(rows)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    numeric = (False, False, False, True, True)

    def line(cells: list[str]) -> str:
        columns = zip(cells, widths, numeric, strict=True)
        parts = [cell.rjust(w) if right else cell.ljust(w) for cell, w, right in columns]
        return "  ".join(parts).rstrip()

    rule = "-" * len(line(header))
    lines = [line(header), rule, *map(line, body[:-1]), rule, line(body[-1]), *notes]
    return "\n".join(lines)


def summary_markdown(rows: list[LayerRow]) -> str:
    """The rows as a Markdown table with a totals row."""
    header, body, notes = _table(rows)
    escape = lambda cell: cell.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "| --- | --- | --- | ---: | ---: |"]
    lines += ["| " + " | ".join(map(escape, cells)) + " |" for cells in body]
    return "\n".join([*lines, "", *notes])
