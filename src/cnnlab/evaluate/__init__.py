"""Test metrics from predictions, predictions.csv, and evaluating or predicting with a run.

Pure array functions (`compute_metrics`, `roc_curves`) let visualize and report work from
saved predictions without re-running a model; `test_model`, `evaluate_run` and `predict`
load a run's best checkpoint.
"""

from cnnlab.evaluate.api import (
    EvalResult,
    evaluate_run,
    output_names,
    predict,
    predict_to_csv,
    test_model,
)
from cnnlab.evaluate.inference import predict_probabilities
from cnnlab.evaluate.metrics import (
    compute_metrics,
    normalize_confusion,
    roc_curves,
    sample_losses,
)
from cnnlab.evaluate.predictions import Predictions, read_predictions, write_predictions

__all__ = [
    "EvalResult",
    "Predictions",
    "compute_metrics",
    "evaluate_run",
    "normalize_confusion",
    "output_names",
    "predict",
    "predict_probabilities",
    "predict_to_csv",
    "read_predictions",
    "roc_curves",
    "sample_losses",
    "test_model",
    "write_predictions",
]
