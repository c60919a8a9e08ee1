"""A report as plain data: sections of blocks, rendered to Markdown and to HTML by separate modules.

Text in `Text`, `Table` and `Bullets` is inline Markdown (`code`, **bold**); renderers escape
everything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Text:
    """One paragraph."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table with an optional caption; `align` holds 'l' or 'r' per column (numbers go right)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...] = ()
    caption: str = ""

    def alignment(self) -> tuple[str, ...]:
        return self.align or ("l",) * len(self.header)


@dataclass(frozen=True)
class Bullets:
    """A list; `kinds` tags each item (e.g. a diagnosis finding's kind) for styling."""

    items: tuple[str, ...]
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Code:
    """A preformatted block (config YAML, log lines)."""

    text: str
    language: str = ""


@dataclass(frozen=True)
class Image:
    """A figure file (PNG or SVG) with its caption."""

    path: Path
    caption: str


@dataclass(frozen=True)
class Markdown:
    """A Markdown fragment made elsewhere (dataset profile); its headings go below the section's."""

    text: str


Block = Text | Table | Bullets | Code | Image | Markdown


@dataclass(frozen=True)
class Section:
    """A titled part of the report; the anchor is derived from the title."""

    title: str
    blocks: tuple[Block, ...]

    @property
    def anchor(self) -> str:
        return slug(self.title)


@dataclass(frozen=True)
class Document:
    """A whole report: title, a one-line subtitle, sections in reading order."""

    title: str
    subtitle: str
    sections: tuple[Section, ...] = field(default_factory=tuple)


def slug(title: str) -> str:
    """'Model summary' -> 'model-summary', an id usable in both Markdown and HTML links."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def number(value: float | int | None, fmt: str = ".4f") -> str:
    """A metric for a table cell; missing and NaN values as '–'."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return format(value, fmt)


def seconds(value: float | None) -> str:
    """A duration: '12.3 s', '4 min 05 s' or '1 h 02 min'."""
    if value is None:
        return "–"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"
