"""A small HTML table, escaped, for objects that render themselves in Jupyter (`_repr_html_`)."""

from __future__ import annotations

import html
from collections.abc import Sequence


def html_table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    numeric: Sequence[bool] = (),
    caption: str = "",
    footer: Sequence[str] = (),
) -> str:
    """`rows` under `header` as an HTML table; `numeric` columns right-aligned, `footer` lines below."""
    sides = ["right" if i < len(numeric) and numeric[i] else "left" for i in range(len(header))]

    def row(cells: Sequence[object], tag: str) -> str:
        parts = (
            f'<{tag} style="text-align:{side}">{html.escape(str(cell))}</{tag}>'
            for cell, side in zip(cells, sides, strict=True)
        )
        return "<tr>" + "".join(parts) + "</tr>"

    lines = ["<table>"]
    if caption:
        lines.append(f"<caption>{html.escape(caption)}</caption>")
    lines.append("<thead>" + row(header, "th") + "</thead>")
    lines.append("<tbody>" + "".join(row(cells, "td") for cells in rows) + "</tbody>")
    lines.append("</table>")
    lines += [f"<p>{html.escape(line)}</p>" for line in footer]
    return "\n".join(lines)
