"""The package layout holds: imports read from the source follow the documented layer order
(docs/ARCHITECTURE.md) and form no cycle, deferred imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "cnnlab"
ARCHITECTURE = SRC.parent.parent / "docs" / "ARCHITECTURE.md"

# Lower layers first; a module may import its own package and any package of a lower layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("atomic", "htmltable", "lazy"),
    ("config", "scratch"),  # scratch: the NumPy engine, which imports no other stage
    ("data",),
    ("models",),
    ("training",),
    ("runs",),
    ("evaluate", "transfer"),
    ("visualize",),
    ("lrfind", "report"),
    ("experiment",),
    ("sweep", "search", "export", "serve"),
    ("cli",),
)
FACADES = ("__init__", "__main__")  # cnnlab/__init__.py names the API lazily; __main__ runs cli
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}


def package_of(path: Path) -> str:
    """The first component under src/cnnlab: a package name, or a top-level module's name."""
    return path.relative_to(SRC).with_suffix("").parts[0]


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """(cnnlab package, line) for every import in the file, at any depth (functions too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = set()
    module_parts = path.relative_to(SRC.parent).with_suffix("").parts  # ("cnnlab", "x", "y")
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this module's package
                base = module_parts[: len(module_parts) - node.level]
                names = [".".join([*base, node.module or ""]).rstrip(".")]
            elif node.module == "cnnlab":  # from cnnlab import x: x is the package
                names = [f"cnnlab.{alias.name}" for alias in node.names]
            else:
                names = [node.module or ""]
        for name in names:
            parts = name.split(".")
            if parts[0] == "cnnlab" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


def source_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_package_has_a_layer():
    packages = {package_of(path) for path in source_files()} - set(FACADES)
    assert packages <= set(RANK), f"not in LAYERS: {sorted(packages - set(RANK))}"


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layer_order(path):
    mine = package_of(path)
    if mine in FACADES:
        return
    wrong = [
        f"line {line}: {mine} (layer {RANK[mine]}) imports {other} (layer {RANK[other]})"
        for other, line in sorted(imported_packages(path))
        if other != mine and other in RANK and RANK[other] >= RANK[mine]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_packages():
    edges: dict[str, set[str]] = {}
    for path in source_files():
        mine = package_of(path)
        if mine not in FACADES:
            edges.setdefault(mine, set()).update(
                other for other, _ in imported_packages(path) if other != mine
            )
    visiting, done = [], set()

    def visit(node: str) -> None:
        if node in visiting:
            cycle = visiting[visiting.index(node) :] + [node]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        visiting.append(node)
        for target in sorted(edges.get(node, ())):
            visit(target)
        visiting.pop()
        done.add(node)

    for node in sorted(edges):
        visit(node)


def test_the_documented_order_is_the_tested_one():
    """docs/ARCHITECTURE.md lists the same layers, lowest first."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    listed = [
        line.split("|")[2].strip().strip("`").replace("`", "").split(", ")
        for line in text.splitlines()
        if line.startswith("| ") and line.split("|")[1].strip().isdigit()
    ]
    assert [tuple(row) for row in listed] == list(LAYERS)


def test_the_checker_sees_deferred_and_relative_imports(tmp_path, monkeypatch):
    fake = tmp_path / "cnnlab" / "runs"
    fake.mkdir(parents=True)
    module = fake / "x.py"
    module.write_text(
        "def f():\n    from cnnlab.experiment import train\n"
        "from ..report import write_report\nfrom cnnlab import sweep\n"
    )
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path / "cnnlab")
    assert {name for name, _ in imported_packages(module)} == {"experiment", "report", "sweep"}
