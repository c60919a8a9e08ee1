"""Which figures start before the evaluation: never the prediction figures, and the model's
only when the model is on the CPU (a forked child cannot use CUDA)."""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.experiment.drawing import early_names
from cnnlab.visualize.figure_table import FIGURES


def test_on_the_cpu_everything_without_predictions_starts_early():
    names = early_names(nn.Linear(2, 2))
    assert {"loss", "accuracy", "lr", "augmented_batch", "filters", "feature_maps"} <= set(names)
    assert not any(FIGURES[name].uses_evaluation for name in names)
    assert "gradcam" not in names and "confusion_matrix" not in names


def test_a_model_off_the_cpu_keeps_its_figures_in_the_parent():
    names = early_names(nn.Linear(2, 2, device=torch.device("meta")))
    assert "loss" in names
    assert not any(FIGURES[name].uses_model for name in names)
    assert "augmented_batch" not in names  # replayed on the model's device
