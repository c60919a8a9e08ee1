"""Markdown as HTML through markdown-it-py: CommonMark with pipe tables, for the report page.

Raw HTML in the text is shown as text and only relative links become links, so a fragment
read from a run directory can neither inject markup nor make the page fetch anything.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping, Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import OptionsDict

SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, javascript:, data:, C:, ...
Env = MutableMapping[str, Any]  # markdown-it's per-render sandbox
ALIGN_CLASSES = {"text-align:right": "num", "text-align:center": "center"}  # styled by the page


def relative_link(url: str) -> bool:
    """True for a file beside the page or an anchor in it; False with a scheme or a host."""
    return not (SCHEME.match(url) or url.startswith("//"))


def _table_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env
) -> str:
    """A table in the scrolling wrapper the page styles."""
    return '<div class="table-wrap">' + self.renderToken(tokens, idx, options, env)


def _table_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env
) -> str:
    return self.renderToken(tokens, idx, options, env) + "</div>\n"


def _cell_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env
) -> str:
    """A table cell; an aligned column gets a class (right: `num`) instead of an inline style."""
    token = tokens[idx]
    name = ALIGN_CLASSES.get(str(token.attrGet("style")))
    return f'<{token.tag} class="{name}">' if name else f"<{token.tag}>"


def _heading(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env
) -> str:
    """A heading demoted by `env['heading_shift']` levels, at most to <h6>."""
    token = tokens[idx]
    level = min(6, int(token.tag[1:]) + env.get("heading_shift", 0))
    return f"<h{level}>" if token.nesting == 1 else f"</h{level}>\n"


RENDER_RULES = {
    "table_open": _table_open,
    "table_close": _table_close,
    "th_open": _cell_open,
    "td_open": _cell_open,
    "heading_open": _heading,
    "heading_close": _heading,
}


class ReportMarkdown(MarkdownIt):
    """CommonMark plus pipe tables; raw HTML escaped, pictures left as text, links relative only."""

    def __init__(self) -> None:
        super().__init__("commonmark", {"html": False})
        self.enable("table")
        self.disable("image")  # a picture would be a load the page's policy forbids
        for name, rule in RENDER_RULES.items():
            self.add_render_rule(name, rule)

    def validateLink(self, url: str) -> bool:  # markdown-it's hook, named by markdown-it
        """Only relative links (normalized, entities decoded) become <a href>."""
        return relative_link(url)

    def fragment_html(self, text: str, heading_shift: int = 0) -> str:
        """A Markdown fragment as HTML blocks, its headings demoted by `heading_shift`."""
        return self.render(text, {"heading_shift": heading_shift})

    def inline_html(self, text: str) -> str:
        """One line of inline Markdown (`code`, **bold**, [link](x.html)) as HTML, no <p>."""
        return self.renderInline(text)
