"""Shared figure scaffolding: a Figure laid out once by hand, colour bars, grid shapes, text sizes.

A layout engine measures every text twice for each file saved; `fit_axes` measures once, when
the figure is built, and saving then draws it once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, get_hinting_flag
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font

from cnnlab.visualize.save import PNG_DPI

PAD_INCHES = 0.08  # free border around everything a figure shows
COLORBAR_GAP = 0.1  # inches between a colour bar and what it explains
COLORBAR_ASPECT = 20  # a colour bar's length over its width
COLORBAR_ROOM = 1.0  # inches kept right of an image grid for its colour bar, ticks and label
LINE_SPACING = 1.2  # Matplotlib's default, in multiples of the font size


def new_figure(width: float, height: float) -> Figure:
    """A Figure (inches) at the saving dpi with its own Agg canvas; no pyplot, no layout engine."""
    figure = Figure(figsize=(width, height), dpi=PNG_DPI)
    FigureCanvasAgg(figure)
    return figure


def fit_axes(ax: Axes, *, right: float = 0.0, square: bool = False) -> None:
    """Move `ax` so its ticks, labels, title and legend just fit the figure, `right` inches kept free.

    `square` keeps the axes box square (images, ROC) and centres it in the room left.
    """
    figure = ax.get_figure(root=True)
    renderer = figure.canvas.get_renderer()
    W, H = figure.bbox.width, figure.bbox.height  # pixels
    box = ax.get_window_extent(renderer)
    tight = ax.get_tightbbox(renderer, for_layout_only=True)  # ticks, labels, title, legend
    pad, kept = PAD_INCHES * figure.dpi, right * figure.dpi
    x0, x1 = pad + box.x0 - tight.x0, W - pad - kept - (tight.x1 - box.x1)
    y0, y1 = pad + box.y0 - tight.y0, H - pad - (tight.y1 - box.y1)
    if square:
        side = min(x1 - x0, y1 - y0)
        x0, y0 = x0 + (x1 - x0 - side) / 2, y0 + (y1 - y0 - side) / 2
        x1, y1 = x0 + side, y0 + side
    ax.set_position((x0 / W, y0 / H, max(x1 - x0, 1.0) / W, max(y1 - y0, 1.0) / H))


def fit_with_colorbar(ax: Axes, colorbar: Colorbar, *, square: bool = False) -> None:
    """Fit `ax` into the figure with room for `colorbar` (from `colorbar_at`), then put it beside."""
    figure = ax.get_figure(root=True)
    renderer = figure.canvas.get_renderer()
    labels = colorbar.ax.get_tightbbox(renderer).x1 - colorbar.ax.get_window_extent(renderer).x1
    width = colorbar_width(colorbar)
    fit_axes(ax, right=COLORBAR_GAP + width + labels / figure.dpi, square=square)
    place_colorbar(colorbar.ax, ax.get_position().bounds, width=width)


def colorbar_width(colorbar: Colorbar) -> float:
    """The width in inches of a colour bar's axes."""
    return colorbar.ax.get_position().width * colorbar.ax.get_figure(root=True).get_figwidth()


def colorbar_at(
    figure: Figure, bounds: tuple[float, ...], mappable, label: str, shrink: float = 0.8
) -> Colorbar:
    """A colour bar right of the box `bounds` (x0, y0, width, height as figure fractions)."""
    cax = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    place_colorbar(cax, bounds, shrink)
    return figure.colorbar(mappable, cax=cax, label=label)


def place_colorbar(
    cax: Axes, bounds: tuple[float, ...], shrink: float = 0.8, width: float | None = None
) -> None:
    """Put colour bar axes `cax` right of the box `bounds`, centred, `shrink` times its height.

    Its `width` in inches defaults to a twentieth of its length, as Matplotlib draws bars.
    """
    W, H = cax.get_figure(root=True).get_size_inches()
    x0, y0, w, h = bounds
    width = shrink * h * H / COLORBAR_ASPECT if width is None else width
    cax.set_position((x0 + w + COLORBAR_GAP / W, y0 + h * (1 - shrink) / 2, width / W, h * shrink))


def grid_shape(count: int, max_columns: int) -> tuple[int, int]:
    """(rows, columns) of a near-square grid for `count` panels, at most `max_columns` wide.

    A slightly wider grid that `count` fills exactly is preferred (32 -> 4 x 8, not 6 x 6).
    """
    columns = max(1, min(max_columns, math.ceil(math.sqrt(count))))
    exact = [c for c in range(columns, min(columns + 2, max_columns) + 1) if count % c == 0]
    columns = exact[0] if exact else columns
    return max(1, math.ceil(count / columns)), columns


def widest(texts: Sequence[str], points: float) -> float:
    """Width in pixels (at PNG_DPI) of the longest line among `texts` at `points`, 0 for none.

    Sums each character's hinted advance: within a pixel of Agg's own measure, at a small
    fraction of the cost of laying the text out.
    """
    font = get_font(findfont(FontProperties(size=points)))
    font.set_size(points, PNG_DPI)
    lines = [line for text in texts for line in text.split("\n")]
    advances: dict[str, float] = {}
    for char in {char for line in lines for char in line}:
        advances[char] = font.load_char(ord(char), flags=get_hinting_flag()).horiAdvance / 64
    return max((sum(advances[char] for char in line) for line in lines), default=0.0)


def text_height(lines: int, points: float, dpi: float = PNG_DPI) -> int:
    """Pixels taken by `lines` lines of text at `points`."""
    return math.ceil(lines * LINE_SPACING * points / 72 * dpi)


def short(name: str, limit: int = 14) -> str:
    """A class name cut to `limit` characters (with an ellipsis) so panel titles fit."""
    return name if len(name) <= limit else name[: limit - 1] + "…"
