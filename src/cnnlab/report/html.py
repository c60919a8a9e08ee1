"""A `Document` as one self-contained HTML page: inline CSS, figures as data URIs, no script.

A Content-Security-Policy forbids every load except inline styles and data: images, so the
page can neither fetch nor leak anything and reads the same offline.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from cnnlab.atomic import write_text
from cnnlab.report.document import Block, Bullets, Code, Document, Image, Markdown, Table, Text
from cnnlab.report.mdhtml import fragment_html, inline, table_html

MIME_TYPES = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
HEADING_SHIFT = 2  # a fragment's '# title' becomes <h3> under the section's <h2>
WIDE_PIXELS = 1100  # a PNG at least this wide takes a whole row of the figure grid

STYLE = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.55; font-size: 15px;
  font-family: -apple-system, "Segoe UI", "Helvetica Neue", Helvetica, Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 64px; }
header { border-bottom: 1px solid var(--line); padding-bottom: 14px; margin-bottom: 18px; }
h1 { font-size: 28px; margin: 0 0 4px; font-weight: 650; }
.subtitle { color: var(--muted); margin: 0; font-size: 15px; }
h2 { font-size: 21px; margin: 34px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 17px; margin: 22px 0 8px; }
h4, h5, h6 { font-size: 15px; margin: 18px 0 6px; }
p { margin: 8px 0 12px; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.88em;
  background: var(--soft); border-radius: 4px; padding: 1px 5px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px;
  overflow: auto; font-size: 13px; line-height: 1.45; }
pre code { background: none; padding: 0; font-size: inherit; }
nav.toc { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 18px; display: inline-block; }
nav.toc strong { display: block; margin-bottom: 4px; }
nav.toc ol { margin: 0; padding-left: 20px; columns: 2; column-gap: 40px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.table-wrap { overflow-x: auto; margin: 8px 0 16px; }
table { border-collapse: collapse; font-size: 14px; min-width: 320px; }
th, td { border: 1px solid var(--line); padding: 5px 12px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
caption { text-align: left; font-weight: 600; padding: 0 0 6px; }
.tables { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.findings { list-style: none; padding: 0; }
ul.findings li { border-left: 4px solid var(--line); background: var(--soft); padding: 8px 12px;
  margin: 6px 0; border-radius: 0 6px 6px 0; }
li.healthy { border-left-color: #1a7f37 !important; }
li.overfitting, li.underfitting { border-left-color: #bf8700 !important; }
li.diverged { border-left-color: #cf222e !important; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 18px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 10px; background: #fff; }
figure.wide { grid-column: 1 / -1; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; text-align: center; }
"""


def data_uri(data: bytes, suffix: str) -> str:
    """File contents as a base64 data URI (PNG, SVG or JPEG by the file's suffix)."""
    mime = MIME_TYPES.get(suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def png_width(data: bytes) -> int | None:
    """A PNG's width in pixels, read from its IHDR chunk (None for anything else)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big")


def figure_html(image: Image) -> str:
    """One embedded figure with its caption; a wide one spans the grid; unreadable -> a note."""
    try:
        data = image.path.read_bytes()
    except OSError as error:
        return f"<p>Figure {escape(image.path.name)} could not be read: {escape(str(error))}</p>"
    wide = ' class="wide"' if (png_width(data) or 0) >= WIDE_PIXELS else ""
    return (
        f'<figure{wide}><img src="{data_uri(data, image.path.suffix)}" alt="{escape(image.caption)}">'
        f"<figcaption>{inline(image.caption)}</figcaption></figure>"
    )


def block_html(block: Block) -> str:
    """One block as HTML (figures are grouped by `section_html`)."""
    if isinstance(block, Text):
        return f"<p>{inline(block.text)}</p>"
    if isinstance(block, Table):
        rows = [list(row) for row in block.rows]
        return table_html(list(block.header), rows, list(block.alignment()), block.caption)
    if isinstance(block, Bullets):
        kinds = block.kinds or ("",) * len(block.items)
        items = "".join(
            f'<li class="{escape(kind)}">{inline(item)}</li>'
            for item, kind in zip(block.items, kinds, strict=True)
        )
        return f'<ul class="{"findings" if block.kinds else "plain"}">{items}</ul>'
    if isinstance(block, Code):
        return f"<pre><code>{escape(block.text)}</code></pre>"
    if isinstance(block, Image):
        return figure_html(block)
    if isinstance(block, Markdown):
        return fragment_html(block.text, HEADING_SHIFT)
    raise TypeError(f"not a report block: {type(block).__name__}")


def section_html(blocks: tuple[Block, ...]) -> str:
    """A section's blocks; consecutive figures share a grid, consecutive tables a row."""
    parts, group, kind = [], [], None
    for block in (*blocks, None):
        block_kind = (
            "figures"
            if isinstance(block, Image)
            else "tables"
            if isinstance(block, Table)
            else None
        )
        if group and block_kind != kind:
            parts.append(
                f'<div class="{kind}">' + "".join(group) + "</div>" if len(group) > 1 else group[0]
            )
            group = []
        kind = block_kind
        if block_kind:
            group.append(block_html(block))
        elif block is not None:
            parts.append(block_html(block))
    return "\n".join(parts)


def render_html(document: Document) -> str:
    """The whole document as one HTML page that loads nothing from anywhere."""
    toc = "".join(
        f'<li><a href="#{section.anchor}">{escape(section.title)}</a></li>'
        for section in document.sections
    )
    body = "\n".join(
        f'<section id="{section.anchor}"><h2>{escape(section.title)}</h2>\n'
        f"{section_html(section.blocks)}</section>"
        for section in document.sections
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(document.title)}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<header><h1>{escape(document.title)}</h1><p class="subtitle">{escape(document.subtitle)}</p></header>
<nav class="toc"><strong>Contents</strong><ol>{toc}</ol></nav>
{body}
</main>
</body>
</html>
"""


def write_html(document: Document, path: Path) -> Path:
    """Write `document` as a self-contained HTML page to `path` (atomically)."""
    return write_text(Path(path), render_html(document))
