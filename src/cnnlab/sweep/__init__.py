"""Sweeps: a grid of runs over any config keys, resumable, with a results table and figures."""

from cnnlab.sweep.grid import SweepRun, expand
from cnnlab.sweep.runner import SweepResult, run_one, run_sweep
from cnnlab.sweep.spec import SweepSpec, load_spec, spec_from_dict

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
