"""A `Document` as one self-contained HTML page: the jinja2 template `templates/report.html.j2`.

Figures are embedded as data URIs and a Content-Security-Policy forbids every load except
inline styles and data: images, so the page can neither fetch nor leak anything and reads
the same offline. Inline Markdown goes through `markup.ReportMarkdown`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from cnnlab.atomic import write_text
from cnnlab.report.document import Block, Bullets, Code, Document, Image, Markdown, Table, Text
from cnnlab.report.markup import ReportMarkdown

MIME_TYPES = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
TEMPLATE = "report.html.j2"
HEADING_SHIFT = 2  # a fragment's '# title' becomes <h3> under the section's <h2>
WIDE_PIXELS = 1100  # a PNG at least this wide takes a whole row of the figure grid


@dataclass(frozen=True)
class Embedded:
    """An `Image` ready for the page: its data URI, or why its file could not be read."""

    name: str
    caption: str
    src: str = ""
    wide: bool = False
    error: str = ""


# the template macro that draws each kind of block (an Image is drawn as its `Embedded`)
KINDS = {
    Text: "text",
    Table: "table",
    Bullets: "bullets",
    Code: "code",
    Embedded: "figure",
    Markdown: "markdown",
}
GROUPS = {"table": "tables", "figure": "figures"}  # consecutive ones share a row / a grid


@dataclass(frozen=True)
class Part:
    """One block for the template: `kind` names the macro that draws `block`."""

    kind: str
    block: Text | Table | Bullets | Code | Embedded | Markdown


def data_uri(data: bytes, suffix: str) -> str:
    """File contents as a base64 data URI (PNG, SVG or JPEG by the file's suffix)."""
    mime = MIME_TYPES.get(suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def png_width(data: bytes) -> int | None:
    """A PNG's width in pixels, read from its IHDR chunk (None for anything else)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big")


def embed(image: Image) -> Embedded:
    """Read a figure file into a data URI; a wide PNG spans the grid; unreadable -> the error."""
    try:
        data = image.path.read_bytes()
    except OSError as error:
        return Embedded(image.path.name, image.caption, error=str(error))
    wide = (png_width(data) or 0) >= WIDE_PIXELS
    return Embedded(image.path.name, image.caption, data_uri(data, image.path.suffix), wide)


def part(block: Block) -> Part:
    """A block as the template draws it (figures read and embedded here)."""
    view = embed(block) if isinstance(block, Image) else block
    if type(view) not in KINDS:
        raise TypeError(f"not a report block: {type(block).__name__}")
    return Part(KINDS[type(view)], view)


def grouped(blocks: tuple[Block, ...]) -> list[tuple[Part, ...]]:
    """A section's blocks in order, consecutive tables and consecutive figures put together."""
    groups: list[list[Part]] = []
    for item in map(part, blocks):
        if groups and item.kind in GROUPS and groups[-1][-1].kind == item.kind:
            groups[-1].append(item)
        else:
            groups.append([item])
    return [tuple(group) for group in groups]


def tagged(bullets: Bullets) -> Iterator[tuple[str, str]]:
    """(item, kind) pairs of a list; kind '' where the list has no kinds."""
    return zip(bullets.items, bullets.kinds or ("",) * len(bullets.items), strict=True)


def environment(markdown: ReportMarkdown) -> Environment:
    """The jinja2 environment of the page: autoescaping, the package's templates, Markdown filters."""
    env = Environment(
        loader=PackageLoader("cnnlab.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["inline"] = lambda text: Markup(markdown.inline_html(text))
    env.filters["markdown"] = lambda text: Markup(markdown.fragment_html(text, HEADING_SHIFT))
    env.filters["tagged"] = tagged
    return env


def render_html(document: Document) -> str:
    """The whole document as one HTML page that loads nothing from anywhere."""
    template = environment(ReportMarkdown()).get_template(TEMPLATE)
    sections = [(section, grouped(section.blocks)) for section in document.sections]
    return template.render(document=document, sections=sections, policy=POLICY, groups=GROUPS)


def write_html(document: Document, path: Path) -> Path:
    """Write `document` as a self-contained HTML page to `path` (atomically)."""
    return write_text(Path(path), render_html(document))
