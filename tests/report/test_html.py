"""The HTML renderer on hand-made documents: Markdown, tables, code, escaping, embedded figures."""

from __future__ import annotations

import base64
import re

import pytest

from cnnlab.report.document import (
    Bullets,
    Code,
    Document,
    Image,
    Markdown,
    Section,
    Table,
    Text,
)
from cnnlab.report.html import GROUPS, grouped, render_html, write_html
from cnnlab.report.markup import ReportMarkdown

SCRIPT = "<script>alert(1)</script>"


def png_bytes(width: int) -> bytes:
    """The first bytes of a PNG of `width` pixels: enough for the renderer, which never decodes it."""
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + width.to_bytes(4, "big") + bytes(12)


def test_fragment_tables_are_aligned_and_escaped():
    html = ReportMarkdown().fragment_html("| a | n |\n| --- | ---: |\n| <x> | 3 \\| 4 |\n")
    assert html.startswith('<div class="table-wrap"><table>')
    assert re.search(r'<th>a</th>\s*<th class="num">n</th>', html)
    assert re.search(r'<td>&lt;x&gt;</td>\s*<td class="num">3 \| 4</td>', html)
    assert "style=" not in html


def test_fragment_headings_code_and_lists():
    text = (
        "# Profile\n\n## Splits\n\n```yaml\nname: <b>\n```\n\n- one\n  - two\n\ntext with `<code>`"
    )
    html = ReportMarkdown().fragment_html(text, 2)
    assert "<h3>Profile</h3>" in html and "<h4>Splits</h4>" in html
    assert '<pre><code class="language-yaml">name: &lt;b&gt;\n</code></pre>' in html
    assert re.search(r"<li>one\s*<ul>\s*<li>two</li>", html)
    assert "<p>text with <code>&lt;code&gt;</code></p>" in html
    assert "<h6>deep</h6>" in ReportMarkdown().fragment_html("##### deep", 3)


def test_inline_markdown_and_links():
    markdown = ReportMarkdown()
    assert markdown.inline_html("**bold** and *em*") == "<strong>bold</strong> and <em>em</em>"
    assert markdown.inline_html("[r](../r/report.html)") == '<a href="../r/report.html">r</a>'
    assert markdown.inline_html("[s](#summary)") == '<a href="#summary">s</a>'
    for target in ("http://example.com/x", "https://e.com", "//e.com/x", "javascript:alert(1)"):
        assert "<a" not in markdown.inline_html(f"[evil]({target})"), target
    assert "<a" not in markdown.inline_html("<https://example.com>")
    assert "<img" not in markdown.inline_html("![pixel](https://example.com/p.png)")


def test_raw_html_is_escaped_everywhere(tmp_path):
    image = tmp_path / f"{SCRIPT}.png".replace("/", "_")
    image.write_bytes(png_bytes(10))
    document = Document(
        SCRIPT,
        SCRIPT,
        (
            Section(SCRIPT, (Text(SCRIPT), Table((SCRIPT,), ((SCRIPT,),), caption=SCRIPT))),
            Section("b", (Bullets((SCRIPT,), (SCRIPT,)), Code(SCRIPT, SCRIPT))),
            Section("c", (Markdown(f"# {SCRIPT}\n\n{SCRIPT}\n\n| {SCRIPT} |\n|---|\n"),)),
            Section("d", (Image(image, SCRIPT), Image(tmp_path / SCRIPT, SCRIPT))),
        ),
    )
    html = render_html(document)
    assert "<script" not in html.lower() and "&lt;script&gt;" in html
    assert '<img src="data:image/png;base64,' in html


def test_page_has_every_block_kind(tmp_path):
    (tmp_path / "wide.png").write_bytes(png_bytes(1200))
    (tmp_path / "small.png").write_bytes(png_bytes(300))
    (tmp_path / "curve.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    document = Document(
        "Run report: r",
        "subtitle & more",
        (
            Section(
                "Model summary",
                (
                    Text("See `config.yaml`."),
                    Table(("metric", "value"), (("accuracy", "0.9567"),), ("l", "r"), "Test"),
                    Table(("", ""), (("k", "v"),)),
                ),
            ),
            Section("Diagnosis", (Bullets(("fine", "bad"), ("healthy", "diverged")),)),
            Section("Log", (Code("epoch 1 <b>", "text"),)),
            Section(
                "Figures",
                (
                    Image(tmp_path / "wide.png", "Wide"),
                    Image(tmp_path / "small.png", "Small"),
                    Image(tmp_path / "curve.svg", "Curve"),
                    Image(tmp_path / "gone.png", "Gone"),
                ),
            ),
        ),
    )
    path = write_html(document, tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<title>Run report: r</title>" in html
    assert '<h1>Run report: r</h1><p class="subtitle">subtitle &amp; more</p>' in html
    assert '<a href="#model-summary">Model summary</a>' in html
    assert '<section id="model-summary"><h2>Model summary</h2>' in html
    assert "<p>See <code>config.yaml</code>.</p>" in html
    assert "<caption>Test</caption>" in html
    assert '<thead><tr><th>metric</th><th class="num">value</th></tr></thead>' in html
    assert '<tr><td>accuracy</td><td class="num">0.9567</td></tr>' in html
    assert html.count("<thead>") == 1  # a table without a header has none
    assert '<div class="tables">' in html and '<div class="figures">' in html
    assert '<ul class="findings">' in html and '<li class="diverged">bad</li>' in html
    assert '<pre><code class="language-text">epoch 1 &lt;b&gt;</code></pre>' in html
    sources = re.findall(r'<img src="([^"]*)"', html)
    for source, name in zip(sources, ("wide.png", "small.png", "curve.svg"), strict=True):
        assert source.endswith(base64.b64encode((tmp_path / name).read_bytes()).decode())
    assert sources[2].startswith("data:image/svg+xml;base64,")
    assert '<figure class="wide"><img' in html and html.count("<figure>") == 2
    assert "<p>Figure gone.png could not be read:" in html
    assert "<figcaption>Curve</figcaption>" in html
    assert re.search(r"https?://", html) is None  # the SVG's namespace only inside base64
    assert "Content-Security-Policy" in html and "<link" not in html and "url(" not in html


def test_consecutive_tables_and_figures_are_grouped(tmp_path):
    table = Table(("a",), (("1",),))
    parts = grouped((table, table, Text("x"), table, Image(tmp_path / "a.png", "a")))
    assert [[part.kind for part in group] for group in parts] == [
        ["table", "table"],
        ["text"],
        ["table"],
        ["figure"],
    ]
    assert set(GROUPS) == {"table", "figure"}


def test_bullet_kinds_must_match_items():
    document = Document("t", "s", (Section("a", (Bullets(("one", "two"), ("healthy",)),)),))
    with pytest.raises(ValueError):
        render_html(document)


def test_not_a_block_is_a_type_error():
    with pytest.raises(TypeError, match="not a report block: str"):
        grouped(("text",))
