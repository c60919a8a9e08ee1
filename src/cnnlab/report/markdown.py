"""A `Document` as Markdown: figures linked by paths relative to the .md file."""

from __future__ import annotations

import os
import re
from pathlib import Path

from cnnlab.atomic import write_text
from cnnlab.report.document import Block, Bullets, Code, Document, Image, Markdown, Table, Text

HEADING_SHIFT = 2  # a fragment's '# title' sits below the section's '## title'


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|")


def table_markdown(table: Table) -> str:
    """A pipe table, numbers right-aligned, its caption in bold above it."""
    rule = ["---:" if a == "r" else "---" for a in table.alignment()]
    lines = ["| " + " | ".join(map(_cell, table.header)) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in table.rows]
    return "\n".join([f"**{table.caption}**", "", *lines] if table.caption else lines)


def fence(text: str, language: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}{language}\n{text}\n{marks}"


def shift_headings(text: str, by: int = HEADING_SHIFT) -> str:
    """Demote every ATX heading outside code fences by `by` levels (capped at level 6)."""
    lines, in_code = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        match = None if in_code else re.match(r"^(#{1,6})(\s)", line)
        if match:
            line = "#" * min(6, len(match.group(1)) + by) + line[len(match.group(1)) :]
        lines.append(line)
    return "\n".join(lines).strip("\n")


def image_link(path: Path, base: Path) -> str:
    """The path of a figure as seen from the Markdown file's folder."""
    relative = Path(os.path.relpath(path, base)).as_posix()
    return f"<{relative}>" if " " in relative else relative


def block_markdown(block: Block, base: Path) -> str:
    """One block as Markdown text."""
    if isinstance(block, Text):
        return block.text
    if isinstance(block, Table):
        return table_markdown(block)
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Code):
        return fence(block.text, block.language)
    if isinstance(block, Image):
        return f"![{block.caption}]({image_link(block.path, base)})\n\n*{block.caption}*"
    if isinstance(block, Markdown):
        return shift_headings(block.text)
    raise TypeError(f"not a report block: {type(block).__name__}")


def render_markdown(document: Document, base: Path) -> str:
    """The whole document, with a table of contents; `base` is the folder the .md is written to."""
    parts = [f"# {document.title}", f"*{document.subtitle}*", "## Contents"]
    parts.append("\n".join(f"- [{s.title}](#{s.anchor})" for s in document.sections))
    for section in document.sections:
        parts.append(f"## {section.title}")
        parts += [block_markdown(block, Path(base)) for block in section.blocks]
    return "\n\n".join(parts) + "\n"


def write_markdown(document: Document, path: Path) -> Path:
    """Write `document` as Markdown to `path` (atomically)."""
    path = Path(path)
    return write_text(path, render_markdown(document, path.parent))
