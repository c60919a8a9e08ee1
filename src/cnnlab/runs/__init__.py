"""The run directory and nothing else: its files (`RunDir`), the recorder both training engines
write through, and `load_run`, which builds a run's model from its checkpoint alone."""

from cnnlab.runs.load import LoadedRun, load_run
from cnnlab.runs.predictions import Predictions
from cnnlab.runs.recorder import Recorder, format_epoch
from cnnlab.runs.rundir import SETTLED, STATUSES, RunDir, claim_run_dir, new_run_dir

__all__ = [
    "SETTLED",
    "STATUSES",
    "LoadedRun",
    "Predictions",
    "Recorder",
    "RunDir",
    "claim_run_dir",
    "format_epoch",
    "load_run",
    "new_run_dir",
]
