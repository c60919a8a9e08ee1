"""Figures that combine several runs (one axes, one colour per run), drawn with Matplotlib's object API.

No pyplot, so no global figure registry: a `Figure` is drawn on its own `FigureCanvasAgg`
and freed when it goes out of scope.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cnnlab.atomic import write_bytes

DPI = 110


@dataclass(frozen=True)
class Curve:
    """One line: y per x, drawn in the colour of `group` (a run), solid or dashed."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    group: int = 0
    dashed: bool = False


def curves_figure(
    curves: Sequence[Curve], title: str, ylabel: str, xlabel: str = "epoch"
) -> Figure:
    """All curves on one axes, a colour per group, with a legend."""
    figure = Figure(figsize=(7.0, 4.2), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    groups = max((curve.group for curve in curves), default=0) + 1
    palette = colormaps["tab10" if groups <= 10 else "tab20"]
    for curve in curves:
        axes.plot(
            curve.x,
            curve.y,
            label=curve.label,
            color=palette(curve.group % palette.N),
            linestyle="--" if curve.dashed else "-",
            marker="o" if len(curve.x) <= 30 else None,
            markersize=3,
            linewidth=1.6,
        )
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    axes.xaxis.get_major_locator().set_params(integer=True)
    if curves:
        axes.legend(fontsize=8, ncol=2 if len(curves) > 8 else 1, loc="best", framealpha=0.85)
    else:
        axes.text(
            0.5, 0.5, "no epochs recorded", ha="center", va="center", transform=axes.transAxes
        )
    return figure


def png_bytes(figure: Figure) -> bytes:
    """The figure rendered as PNG bytes by the Agg canvas."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def save_png(figure: Figure, path: Path) -> Path:
    """Write the figure as a PNG to `path` (atomically)."""
    return write_bytes(Path(path), png_bytes(figure))
