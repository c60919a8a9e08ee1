"""The small Markdown subset cnnlab writes, as HTML: headings, pipe tables, lists, code, paragraphs.

Inline: `code`, **bold**, *emphasis*, relative [links](other/report.html). Everything else is escaped, never passed through, so a
fragment cannot inject markup or load a resource.
"""

from __future__ import annotations

import re
from html import escape

_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LIST_ITEM = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _link(match: re.Match) -> str:
    """A relative link (another report beside this one); a link with a scheme stays plain text."""
    text, target = match.groups()
    if _SCHEME.match(target) or target.startswith("//"):
        return f"{text} ({target})"
    return f'<a href="{target}">{text}</a>'


def inline(text: str) -> str:
    """Inline Markdown as HTML: code spans kept literal, bold and emphasis, the rest escaped."""
    parts = []
    for piece in re.split(r"(`[^`]+`)", text):
        if len(piece) >= 2 and piece.startswith("`") and piece.endswith("`"):
            parts.append(f"<code>{escape(piece[1:-1])}</code>")
            continue
        piece = _LINK.sub(_link, escape(piece))
        piece = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", piece)
        piece = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"<em>\1</em>", piece)
        parts.append(piece)
    return "".join(parts)


def split_row(line: str) -> list[str]:
    """The cells of a pipe-table line ('\\|' is a literal bar inside a cell)."""
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)]


def table_html(
    header: list[str], rows: list[list[str]], align: list[str], caption: str = ""
) -> str:
    """An HTML table; columns aligned 'r' get the `num` class."""

    def cells(values: list[str], tag: str) -> str:
        out = []
        for index, value in enumerate(values):
            numeric = index < len(align) and align[index] == "r"
            attribute = ' class="num"' if numeric else ""
            out.append(f"<{tag}{attribute}>{inline(value)}</{tag}>")
        return "".join(out)

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    title = f"<caption>{inline(caption)}</caption>" if caption else ""
    head = f"<thead><tr>{cells(header, 'th')}</tr></thead>" if any(header) else ""
    return f'<div class="table-wrap"><table>{title}{head}<tbody>{body}</tbody></table></div>'


def _table(lines: list[str]) -> str:
    header, rule, rows = split_row(lines[0]), split_row(lines[1]), lines[2:]
    align = ["r" if cell.endswith(":") and not cell.startswith(":") else "l" for cell in rule]
    return table_html(header, [split_row(line) for line in rows], align)


def _list(lines: list[str]) -> str:
    """Nested <ul> from list lines; deeper indentation opens a sub-list."""
    html, depths = [], []
    for line in lines:
        match = _LIST_ITEM.match(line)
        if not match:  # a continuation line of the previous item
            html.append(" " + inline(line.strip()))
            continue
        depth = len(match.group(1).expandtabs(4))
        if not depths or depth > depths[-1]:
            html.append("<ul><li>")
            depths.append(depth)
        else:
            while len(depths) > 1 and depth < depths[-1]:
                html.append("</li></ul>")
                depths.pop()
            html.append("</li><li>")
        html.append(inline(match.group(2)))
    html.append("</li></ul>" * len(depths))
    return "".join(html)


def fragment_html(text: str, heading_shift: int = 0) -> str:
    """A Markdown fragment as HTML; headings demoted by `heading_shift` levels (at most h6)."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
        elif stripped.startswith(("```", "~~~")):
            marker = re.match(r"^[`~]+", stripped).group(0)
            end = next(
                (j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(marker)),
                len(lines),
            )
            out.append(f"<pre><code>{escape(chr(10).join(lines[i + 1 : end]))}</code></pre>")
            i = end + 1
        elif match := _HEADING.match(stripped):
            level = min(6, len(match.group(1)) + heading_shift)
            out.append(f"<h{level}>{inline(match.group(2))}</h{level}>")
            i += 1
        elif (
            stripped.startswith("|")
            and i + 1 < len(lines)
            and _TABLE_RULE.match(lines[i + 1].strip())
        ):
            end = i + 2
            while end < len(lines) and lines[end].strip().startswith("|"):
                end += 1
            out.append(_table(lines[i:end]))
            i = end
        elif _LIST_ITEM.match(line):
            end = i + 1
            while (
                end < len(lines)
                and lines[end].strip()
                and (_LIST_ITEM.match(lines[end]) or lines[end].startswith((" ", "\t")))
            ):
                end += 1
            out.append(_list(lines[i:end]))
            i = end
        else:
            end = i + 1
            while (
                end < len(lines)
                and lines[end].strip()
                and not (
                    _HEADING.match(lines[end].strip())
                    or _LIST_ITEM.match(lines[end])
                    or lines[end].strip().startswith(("|", "```", "~~~"))
                )
            ):
                end += 1
            out.append(f"<p>{inline(' '.join(l.strip() for l in lines[i:end]))}</p>")
            i = end
    return "\n".join(out)
