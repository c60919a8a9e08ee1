"""The pages' files themselves, without a browser: everything they load ships in the package
(nothing from another host, so they work offline), the vendored chart library keeps its
licence, and no script writes HTML from strings (run names are inserted as text only)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "src" / "cnnlab" / "serve" / "static"
PAGES = ("index.html", "run.html", "compare.html", "try.html")
HTML_SINKS = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(")


@pytest.mark.parametrize("page", PAGES)
def test_a_page_loads_only_files_of_the_package(page):
    html = (STATIC / page).read_text(encoding="utf-8")
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(r.endswith(".js") for r in references)
    for reference in references:
        if reference == "/":
            continue
        assert reference.startswith("/static/"), f"{page} loads {reference} from elsewhere"
        assert (STATIC / reference.removeprefix("/static/")).is_file(), f"{page}: {reference}"


def test_the_vendored_chart_library_keeps_its_licence():
    licence = (STATIC / "vendor" / "uPlot-LICENSE").read_text(encoding="utf-8")
    assert "MIT" in licence and "Permission is hereby granted" in licence
    assert (STATIC / "vendor" / "uPlot.iife.min.js").stat().st_size > 10_000


def test_no_script_writes_html_from_strings():
    scripts = sorted(STATIC.glob("*.js"))
    assert len(scripts) >= 5
    for script in scripts:
        code = "\n".join(
            line for line in script.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith("//")
        )  # fmt: skip
        found = [sink for sink in HTML_SINKS if sink in code]
        assert not found, f"{script.name} uses {found}"
        assert "http://" not in code and "https://" not in code, f"{script.name} calls out"
