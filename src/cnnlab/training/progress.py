"""Where training output goes: is a progress bar wanted, in a terminal or in a notebook?

In a Jupyter kernel stderr is not a TTY, yet the notebook shows a bar well (tqdm.auto picks
its widget form there), so "is this a terminal?" alone would hide it.
"""

from __future__ import annotations

import sys
from typing import TextIO


def in_notebook() -> bool:
    """True inside a Jupyter kernel (the same test tqdm.auto makes to pick its notebook bar)."""
    ipython = sys.modules.get("IPython")  # never imported here: a terminal run stays light
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def show_progress(quiet: bool, stream: TextIO | None = None) -> bool:
    """True when a progress bar should be drawn: not quiet, and a terminal or a notebook."""
    if quiet:
        return False
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or in_notebook()
