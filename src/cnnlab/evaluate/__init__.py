"""Test metrics from predictions, and evaluating or predicting with a model or a run.

Pure array functions (`compute_metrics`, `roc_curves`) let visualize and report work from
predictions without re-running a model; `evaluate_split` scores a model in memory (the one
path every test metric takes); `test_model`, `evaluate_run` and `predict` load a run's best
checkpoint first.
"""

from cnnlab.evaluate.api import (
    EvalResult,
    evaluate_loaded,
    evaluate_run,
    evaluate_split,
    evaluation,
    evaluation_split,
    pick_split,
    record_evaluation,
    require_all_classes,
    run_data,
    test_model,
)
from cnnlab.evaluate.inference import predict_probabilities
from cnnlab.evaluate.metrics import (
    compute_metrics,
    normalize_confusion,
    roc_curves,
    sample_losses,
)
from cnnlab.evaluate.predict import FORMATS, InputMismatchWarning, predict, predict_to_csv

__all__ = [
    "FORMATS",
    "EvalResult",
    "InputMismatchWarning",
    "compute_metrics",
    "evaluate_loaded",
    "evaluate_run",
    "evaluate_split",
    "evaluation",
    "evaluation_split",
    "normalize_confusion",
    "pick_split",
    "predict",
    "predict_probabilities",
    "predict_to_csv",
    "record_evaluation",
    "require_all_classes",
    "roc_curves",
    "run_data",
    "sample_losses",
    "test_model",
]
