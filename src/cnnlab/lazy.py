"""Names a package exports from its modules, imported on first use (PEP 562 `__getattr__`),
so importing the package stays light and its torch-free modules load without torch."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` giving each name of `table` from the module it maps to."""

    def attribute(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(table[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return attribute
