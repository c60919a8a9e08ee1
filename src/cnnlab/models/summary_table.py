"""The per-layer summary as an object: an aligned text table in a terminal, HTML in Jupyter."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from cnnlab.htmltable import html_table
from cnnlab.models.summary import LayerRow, _table, format_summary, summarize, totals

NUMERIC = (False, False, False, True, True)  # layer, type, output shape | params, MACs


@dataclass(frozen=True, repr=False)
class Summary:
    """A model's summary rows; `print` gives the text table, Jupyter shows an HTML table."""

    model: str  # the model's class name, for the caption
    in_shape: tuple[int, ...]  # (C, H, W) of the image it ran on
    rows: tuple[LayerRow, ...]

    @property
    def params(self) -> int:
        return totals(list(self.rows))[0]

    @property
    def trainable(self) -> int:
        return totals(list(self.rows))[1]

    @property
    def macs(self) -> int:
        """Multiply-accumulates per image."""
        return totals(list(self.rows))[2]

    def __str__(self) -> str:
        return format_summary(list(self.rows))

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        header, body, notes = _table(list(self.rows))
        shape = "x".join(map(str, self.in_shape))
        return html_table(header, body, NUMERIC, f"{self.model} on a {shape} image", notes)


def summary_table(model: nn.Module, in_shape: tuple[int, ...]) -> Summary:
    """The summary of `model` on one (C, H, W) image, as a `Summary` that renders in notebooks."""
    rows = summarize(model, tuple(in_shape))
    return Summary(type(model).__name__, tuple(int(d) for d in in_shape), tuple(rows))
