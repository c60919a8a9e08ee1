"""Reading a finished run back: its config, history, class names and trained model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from cnnlab.config import ExperimentConfig, build_config
from cnnlab.errors import CnnlabError, TrainingError
from cnnlab.runs.experiment import Classifier, build_classifier
from cnnlab.runs.rundir import RunDir, read_csv_rows
from cnnlab.training.checkpoint import load_checkpoint
from cnnlab.training.device import use_channels_last


@dataclass
class LoadedRun:
    """A run directory read back, with its model rebuilt and weights loaded (in eval mode)."""

    run: RunDir
    config: ExperimentConfig
    class_names: tuple[str, ...]
    in_shape: tuple[int, int, int]  # (C, H, W) the model takes
    model: Classifier
    checkpoint: str  # "best" or "last"
    epochs: list[dict]  # metrics.csv rows
    iterations: list[dict]  # iterations.csv rows

    @property
    def path(self) -> Path:
        return self.run.path


def load_run(run_dir: Path, which: str = "best", device: str | torch.device = "cpu") -> LoadedRun:
    """Rebuild the model of `run_dir` from its config and load its `best` or `last` weights."""
    run = RunDir(Path(run_dir))
    if not run.path.is_dir():
        raise CnnlabError(f"run directory {run.path} does not exist")
    config = build_config(run.read_config(), str(run.config_path))
    path = run.best_checkpoint if which == "best" else run.last_checkpoint
    state = load_checkpoint(path, map_location=device)
    for key in ("model", "class_names", "in_shape", "mean", "std"):
        if key not in state:
            raise TrainingError(
                f"checkpoint {path} lacks {key!r}; it was not written by cnnlab train"
            )
    class_names = tuple(state["class_names"])
    in_shape = tuple(int(d) for d in state["in_shape"])
    model = build_classifier(config, in_shape, len(class_names), state["mean"], state["std"])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise TrainingError(
            f"checkpoint {path} does not fit the model in {run.config_path}: {error}"
        ) from None
    # the layout training used (channels_last on CPU and CUDA): the faster convolutions
    layout = (
        torch.channels_last
        if use_channels_last(config.train.channels_last, torch.device(device))
        else torch.preserve_format
    )
    model.to(device, memory_format=layout).eval()
    epochs = read_csv_rows(run.metrics_path) if run.metrics_path.is_file() else []
    iterations = read_csv_rows(run.iterations_path) if run.iterations_path.is_file() else []
    return LoadedRun(run, config, class_names, in_shape, model, which, epochs, iterations)
