"""A run's saved figures for a notebook: `show_figures(run)` as the last line of a cell shows them.

The PNGs are embedded in the cell's HTML (base64), so the notebook keeps them when saved and
needs no file server; outside Jupyter the object prints the files' paths.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.runs import RunDir
from cnnlab.visualize.figure_table import order


@dataclass(frozen=True, repr=False)
class Gallery:
    """PNG figures shown one under another, each captioned with its name."""

    paths: tuple[Path, ...]

    def __repr__(self) -> str:
        return "\n".join(str(path) for path in self.paths)

    def _repr_html_(self) -> str:
        parts = []
        for path in self.paths:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            parts.append(
                f'<figure style="margin:0 0 1em 0"><img src="data:image/png;base64,{data}" '
                f'alt="{html.escape(path.stem)}" style="max-width:100%">'
                f"<figcaption>{html.escape(path.stem)}</figcaption></figure>"
            )
        return "\n".join(parts)


def show_figures(run_dir: Path, names: Sequence[str] | None = None) -> Gallery:
    """The run's figures (all, or those in `names`, e.g. ["loss", "confusion_matrix"]) to show inline."""
    folder = RunDir(Path(run_dir)).figures
    available = (
        sorted(folder.glob("*.png"), key=lambda path: order(path.stem)) if folder.is_dir() else []
    )
    if not available:
        raise CnnlabError(
            f"{folder} holds no figures; draw them with `cnnlab figures {run_dir}` "
            f"(cnnlab.train draws them unless report=False)"
        )
    if names is None:
        return Gallery(tuple(available))
    by_name = {path.stem: path for path in available}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ConfigError(
            f"figures {unknown} are not in {folder}; it has {[p.stem for p in available]}"
        )
    return Gallery(tuple(by_name[name] for name in names))
