"""Writing figures to disk: PNG (and SVG where vectors help) through Agg, atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cnnlab.atomic import atomic_write
from cnnlab.errors import ConfigError

PNG_DPI = 120  # sharp on screen, small enough to embed in an HTML report
FORMATS = ("png", "svg")
# No timestamps or versions in the files, so the same figure gives the same bytes.
_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}


def save_figure(figure: Figure, path: Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write `figure` as `path` with each suffix in `formats`; returns the files written."""
    unknown = [fmt for fmt in formats if fmt not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"figure formats must be some of {list(FORMATS)}, got {list(formats)}")
    FigureCanvasAgg(figure)  # a non-interactive canvas of its own: no pyplot, no global backend
    written = []
    for fmt in formats:
        target = Path(path).with_suffix("." + fmt)
        with atomic_write(target, "wb") as stream:
            figure.savefig(
                stream,
                format=fmt,
                dpi=PNG_DPI,
                metadata=_METADATA[fmt],
            )
        written.append(target)
    return written
