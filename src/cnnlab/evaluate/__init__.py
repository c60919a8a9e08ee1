"""Test metrics from predictions, and evaluating or predicting with a model or a run.

Pure array functions (`compute_metrics`, `roc_curves`) let visualize and report work from
predictions without re-running a model; `evaluate_split` scores a model in memory (the one
path every test metric takes); `test_model`, `evaluate_run` and `predict` load a run's best
checkpoint first. Names load from their modules on first use, so the torch-free modules
(`inputs`, `input_check`, `predicting`) import without torch, for `predict MODEL.onnx`.
"""

from __future__ import annotations

from cnnlab.lazy import lazy_attributes

_API = (
    "EvalResult", "evaluate_loaded", "evaluate_run", "evaluate_split", "evaluation",
    "evaluation_split", "pick_split", "record_evaluation", "require_all_classes", "run_data",
    "test_model",
)  # fmt: skip
_LAZY = {
    **dict.fromkeys(_API, "cnnlab.evaluate.api"),
    "predict_probabilities": "cnnlab.evaluate.inference",
    **dict.fromkeys(
        ("compute_metrics", "normalize_confusion", "roc_curves", "sample_losses"),
        "cnnlab.evaluate.metrics",
    ),
    "FORMATS": "cnnlab.evaluate.predicting",
    "InputMismatchWarning": "cnnlab.evaluate.predicting",
    "predict": "cnnlab.evaluate.predict_run",
    "predict_to_csv": "cnnlab.evaluate.predict_run",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_attributes(__name__, _LAZY)
