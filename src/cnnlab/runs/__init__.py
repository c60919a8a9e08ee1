"""Run directories and the experiment driver that fills them."""

from cnnlab.runs.experiment import RunResult, resume, train
from cnnlab.runs.load import LoadedRun, load_run
from cnnlab.runs.rundir import RunDir, new_run_dir

__all__ = ["LoadedRun", "RunDir", "RunResult", "load_run", "new_run_dir", "resume", "train"]
