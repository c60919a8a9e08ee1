"""Reading a finished run back: its config, class names and trained model, from the run alone.

A checkpoint records the architecture it holds (`models.architecture`), so the model is
built from `models` without opening any other run or file. A checkpoint written before
runs recorded their architecture (cnnlab 0.1) is rebuilt from the run's config instead,
which works for every model except a transfer net; that case gets an error saying what to do.
Loading never touches torch's or NumPy's global random state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cnnlab.config import ExperimentConfig
from cnnlab.errors import CnnlabError, ModelError, TrainingError
from cnnlab.models.architecture import classifier_from_record, describe, seeded
from cnnlab.models.classifier import Classifier
from cnnlab.runs.rundir import RunDir
from cnnlab.training.device import use_channels_last

RECORD_KEYS = ("model", "class_names", "in_shape", "mean", "std")


@dataclass
class LoadedRun:
    """A run directory read back, with its model rebuilt and weights loaded (in eval mode)."""

    run: RunDir
    config: ExperimentConfig
    class_names: tuple[str, ...]
    model: Classifier
    checkpoint: str  # "best" or "last"

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def in_shape(self) -> tuple[int, int, int]:
        """(C, H, W) the model takes."""
        return self.model.in_shape


def checkpoint_record(
    state: dict[str, Any], config: ExperimentConfig, path: Path
) -> dict[str, Any]:
    """The checkpoint's architecture record; a legacy checkpoint's is derived from its config."""
    missing = [key for key in RECORD_KEYS if key not in state]
    if missing:
        raise TrainingError(
            f"checkpoint {path} lacks {', '.join(map(repr, missing))}; it was not written by "
            f"cnnlab train"
        )
    if "architecture" in state:
        return state
    if config.model.pretrained:
        raise TrainingError(
            f"checkpoint {path} was written by cnnlab 0.1, before runs recorded their "
            f"architecture, and holds a transfer model that only its parent run "
            f"({config.model.pretrained}) could describe; retrain it with this version "
            f"(cnnlab train {path.parent / 'config.yaml'})"
        )
    try:
        architecture = describe(config.model.name, config.model.options)
    except ModelError as error:
        raise TrainingError(
            f"checkpoint {path} was written by cnnlab 0.1 without an architecture record, and "
            f"its config's model cannot be built again: {error}"
        ) from None
    return {**state, "architecture": architecture}


def load_run(run_dir: Path, which: str = "best", device: str | torch.device = "cpu") -> LoadedRun:
    """Rebuild the model of `run_dir` from its checkpoint and load its `best` or `last` weights."""
    run = RunDir(Path(run_dir))
    if not run.path.is_dir():
        raise CnnlabError(f"run directory {run.path} does not exist")
    config = run.read_config()
    path = run.checkpoint(which)
    state = run.load_checkpoint(which, device)
    record = checkpoint_record(state, config, path)
    class_names = tuple(str(name) for name in state["class_names"])
    with seeded(config.train.seed):  # initial weights are overwritten; the global RNG is kept
        model = classifier_from_record(record, len(class_names))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise TrainingError(
            f"checkpoint {path} does not fit the model it records: {error}"
        ) from None
    layout = (  # the layout training used (channels_last on CPU and CUDA): faster convolutions
        torch.channels_last
        if use_channels_last(config.train.channels_last, torch.device(device))
        else torch.preserve_format
    )
    model.to(device, memory_format=layout).eval()
    return LoadedRun(run, config, class_names, model, which)
