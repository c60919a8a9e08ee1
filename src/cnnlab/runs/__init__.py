"""The run directory and nothing else: its files (`RunDir`), the recorder both training engines
write through, and `load_run`, which builds a run's model from its checkpoint alone.

Names load from their modules on first use, so a torch-free module of this package
(`runs.predictions`) imports without torch.
"""

from __future__ import annotations

from cnnlab.lazy import lazy_attributes

_LAZY = {
    "LoadedRun": "cnnlab.runs.load",
    "load_run": "cnnlab.runs.load",
    "Predictions": "cnnlab.runs.predictions",
    "Recorder": "cnnlab.runs.recorder",
    "format_epoch": "cnnlab.runs.recorder",
    "SETTLED": "cnnlab.runs.rundir",
    "STATUSES": "cnnlab.runs.rundir",
    "RunDir": "cnnlab.runs.rundir",
    "TrackerRun": "cnnlab.runs.rundir",
    "claim_run_dir": "cnnlab.runs.rundir",
    "new_run_dir": "cnnlab.runs.rundir",
}

__all__ = list(_LAZY)


__getattr__ = lazy_attributes(__name__, _LAZY)
