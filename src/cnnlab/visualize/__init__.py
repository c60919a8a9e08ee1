"""Figures from a run: curves, confusion matrix, ROC, filters, feature maps, mistakes, Grad-CAM.

Plot functions are pure (arrays and class names in, a Matplotlib Figure out, no pyplot);
`save_figure` writes them; `FIGURES` is the one table of a run's figures (name → caption and
drawing), read by the report, the gallery and TensorBoard.
"""

from cnnlab.visualize.confusion import normalize_rows, plot_confusion
from cnnlab.visualize.curves import (
    moving_average,
    plot_accuracy,
    plot_f1,
    plot_loss,
    plot_lr,
    plot_train_val,
)
from cnnlab.visualize.feature_maps import capture_activations, plot_feature_maps
from cnnlab.visualize.figure_table import FIGURES, FigureEntry, FigureInputs, Skip
from cnnlab.visualize.filters import plot_filters
from cnnlab.visualize.gradcam import grad_cam, plot_gradcam
from cnnlab.visualize.misclassified import plot_misclassified, select_misclassified
from cnnlab.visualize.roc import plot_roc
from cnnlab.visualize.run_figures import (
    feature_visualization,
    inputs_from_run,
    write_figures,
)
from cnnlab.visualize.save import save_figure

__all__ = [
    "FIGURES",
    "FigureEntry",
    "FigureInputs",
    "Skip",
    "inputs_from_run",
    "capture_activations",
    "feature_visualization",
    "grad_cam",
    "moving_average",
    "normalize_rows",
    "plot_accuracy",
    "plot_confusion",
    "plot_f1",
    "plot_feature_maps",
    "plot_filters",
    "plot_gradcam",
    "plot_loss",
    "plot_lr",
    "plot_misclassified",
    "plot_roc",
    "plot_train_val",
    "save_figure",
    "select_misclassified",
    "write_figures",
]
