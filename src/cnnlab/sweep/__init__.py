"""Sweeps: a grid of runs over any config keys, resumable, with a results table and figures.

The runner's names load on first use: the runner imports the report (Matplotlib, 0.4 s), and
`cnnlab train RECIPE.yaml` reads a recipe through `load_spec` and `expand` without it.
"""

from typing import Any

from cnnlab.sweep.grid import SweepRun, expand
from cnnlab.sweep.spec import SweepSpec, load_spec, spec_from_dict

_RUNNER_NAMES = ("SweepResult", "run_one", "run_sweep")

__all__ = [
    "SweepResult",
    "SweepRun",
    "SweepSpec",
    "expand",
    "load_spec",
    "run_one",
    "run_sweep",
    "spec_from_dict",
]


def __getattr__(name: str) -> Any:
    if name in _RUNNER_NAMES:
        from cnnlab.sweep import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'cnnlab.sweep' has no attribute {name!r}")
