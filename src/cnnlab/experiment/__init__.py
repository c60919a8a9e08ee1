"""The experiment driver: one process, one load. It prepares a run, trains or resumes it (with
fault and rank handling), then hands the same model and data to evaluate, visualize and report.

    cnnlab.train(config)        # -> RunResult, with metrics.json, figures and report written
    cnnlab.resume(run_dir)

The driver sits above every stage package (and `transfer`); only sweep, search and the CLI
sit above it. The verbs on saved runs (`cnnlab eval`) are in `experiment.saved`, the NumPy
engine's driver in `experiment.scratch_run`.
"""

from cnnlab.experiment.results import RunResult, console_table, recall_line, runs_table
from cnnlab.experiment.verbs import range_test, resume, train, train_all

__all__ = [
    "RunResult",
    "console_table",
    "recall_line",
    "range_test",
    "resume",
    "runs_table",
    "train",
    "train_all",
]
