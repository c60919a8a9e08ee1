"""Test metrics as pure functions of arrays: labels (N,) and class probabilities (N, K).

Every number follows scikit-learn's definitions, computed by `evaluate.classification` in
NumPy (held equal to scikit-learn's by tests; importing scikit-learn alone took 1 s of a
one-epoch run). Conventions where a metric is undefined:
- precision / recall / F1 of a class with no predicted (or no true) images is 0
  (`zero_division=0`, as `classification_report`), and the macro averages include every class;
- the AUC of a class that is absent from `y_true` (or the only class present) is None, and then
  the macro AUC is None too (a mean over fewer classes would not be comparable between runs);
  the micro AUC pools every (image, class) pair, so it exists whenever K >= 2;
- `top_k` lists k in (1, 3, 5) below the number of classes (top-K is always 1).
- `balanced_accuracy` is the mean per-class recall over the classes present in `y_true`, as
  `balanced_accuracy_score` (computed from the recalls, without its warning when a prediction
  names a class absent from `y_true`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnnlab.errors import DataFormatError
from cnnlab.evaluate.classification import (
    averaged,
    confusion_matrix,
    curve_area,
    precision_recall_f1,
    roc_auc,
    roc_curve,
    top_k_accuracy,
)

TOP_K = (1, 3, 5)
MOST_CONFUSED = 10  # off-diagonal pairs listed in metrics.json
HIGHEST_LOSS = 16  # images listed in metrics.json
MIN_PROBABILITY = 1e-12  # floor for -log(p), so a confident miss has a finite loss (27.6)


def check_predictions(y_true: np.ndarray, probabilities: np.ndarray, num_classes: int) -> None:
    """Refuse arrays that do not describe N images over `num_classes` classes."""
    y_true, probabilities = np.asarray(y_true), np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[1] != num_classes:
        raise DataFormatError(
            f"probabilities must have shape (N, {num_classes}) for {num_classes} class names, "
            f"got {probabilities.shape}"
        )
    if y_true.shape != (probabilities.shape[0],):
        raise DataFormatError(
            f"y_true must have shape ({probabilities.shape[0]},) to match the probabilities, "
            f"got {y_true.shape}"
        )
    if len(y_true) == 0:
        raise DataFormatError("metrics need at least one image; y_true is empty")
    if not np.issubdtype(y_true.dtype, np.integer):
        raise DataFormatError(f"y_true must hold integer class indices, got dtype {y_true.dtype}")
    if y_true.min() < 0 or y_true.max() >= num_classes:
        raise DataFormatError(
            f"y_true holds labels {y_true.min()}..{y_true.max()}, outside 0..{num_classes - 1}"
        )
    if not np.all(np.isfinite(probabilities)):
        raise DataFormatError("probabilities hold NaN or infinite values")


def one_hot(y_true: np.ndarray, num_classes: int) -> np.ndarray:
    """(N, K) 0/1 indicator of the true class."""
    return (np.asarray(y_true)[:, None] == np.arange(num_classes)).astype(np.int64)


def _defined(column: np.ndarray) -> bool:
    """True when a one-vs-rest column has both positives and negatives (so AUC exists)."""
    return 0 < int(column.sum()) < len(column)


def top_k_accuracies(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """{"k": accuracy} for k in TOP_K below the number of classes (k = 1 always)."""
    K = probabilities.shape[1]
    out = {"1": float(np.mean(y_true == probabilities.argmax(axis=1)))}
    for k in TOP_K[1:]:
        if k < K:
            out[str(k)] = top_k_accuracy(y_true, probabilities, k)
    return out


def per_class_auc(y_true: np.ndarray, probabilities: np.ndarray) -> list[float | None]:
    """One-vs-rest ROC AUC of each class; None where the class is absent (or alone) in y_true."""
    indicator = one_hot(y_true, probabilities.shape[1])  # (N, K)
    return [
        roc_auc(indicator[:, k], probabilities[:, k]) if _defined(indicator[:, k]) else None
        for k in range(probabilities.shape[1])
    ]


def auc_averages(
    y_true: np.ndarray, probabilities: np.ndarray, per_class: list[float | None] | None = None
) -> dict[str, float | None]:
    """Micro AUC (pooled pairs) and macro AUC (mean of per-class AUCs, None if one is undefined)."""
    K = probabilities.shape[1]
    if K < 2:
        return {"auc_micro": None, "auc_macro": None}
    indicator = one_hot(y_true, K)  # (N, K)
    micro = roc_auc(indicator.ravel(), probabilities.ravel())
    per_class = per_class_auc(y_true, probabilities) if per_class is None else per_class
    macro = None if any(a is None for a in per_class) else float(np.mean(per_class))
    return {"auc_micro": micro, "auc_macro": macro}


def normalize_confusion(matrix: np.ndarray) -> np.ndarray:
    """Row-normalised confusion matrix (each true class sums to 1; an empty row stays 0)."""
    matrix = np.asarray(matrix, dtype=np.float64)  # (K, K)
    totals = matrix.sum(axis=1, keepdims=True)  # (K, 1)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def most_confused(
    matrix: np.ndarray, class_names: Sequence[str], top: int = MOST_CONFUSED
) -> list[dict]:
    """The `top` largest off-diagonal cells (true, predicted, count), ties by class order."""
    matrix = np.asarray(matrix)
    K = matrix.shape[0]
    true_idx, pred_idx = np.nonzero((matrix > 0) & ~np.eye(K, dtype=bool))
    counts = matrix[true_idx, pred_idx]
    order = np.lexsort((pred_idx, true_idx, -counts))[:top]  # count desc, then row, then column
    return [
        {
            "true": class_names[true_idx[i]],
            "predicted": class_names[pred_idx[i]],
            "count": int(counts[i]),
        }
        for i in order
    ]


def sample_losses(y_true: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Cross-entropy of each image, -log p(true class), floored at MIN_PROBABILITY: (N,)."""
    p_true = probabilities[np.arange(len(y_true)), y_true]  # (N,)
    return -np.log(np.maximum(p_true, MIN_PROBABILITY))


def highest_loss(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    top: int = HIGHEST_LOSS,
) -> list[dict]:
    """The `top` images with the largest loss: id (position), true, predicted, confidence, loss."""
    losses = sample_losses(y_true, probabilities)  # (N,)
    predicted = probabilities.argmax(axis=1)  # (N,)
    order = np.argsort(-losses, kind="stable")[:top]  # loss desc, ties by id
    return [
        {
            "id": int(i),
            "true": class_names[y_true[i]],
            "predicted": class_names[predicted[i]],
            "confidence": float(probabilities[i, predicted[i]]),
            "loss": float(losses[i]),
        }
        for i in order
    ]


def compute_metrics(
    y_true: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str], split: str = "test"
) -> dict:
    """Every test metric of metrics.json from labels (N,) int and probabilities (N, K)."""
    class_names = [str(name) for name in class_names]
    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    check_predictions(y_true, probabilities, len(class_names))
    y_true = y_true.astype(np.int64)
    K = len(class_names)
    predicted = probabilities.argmax(axis=1)  # (N,) first maximum on ties
    matrix = confusion_matrix(y_true, predicted, K)  # (K, K) rows true, cols predicted
    precision, recall, f1, support = precision_recall_f1(matrix)
    averages = {
        f"{name}_{average}": averaged(values, support, average)
        for average in ("macro", "weighted")
        for name, values in (("precision", precision), ("recall", recall), ("f1", f1))
    }
    aucs = per_class_auc(y_true, probabilities) if K >= 2 else [None] * K
    return {
        "split": split,
        "num_samples": int(len(y_true)),
        "accuracy": float(np.mean(y_true == predicted)),
        # the mean recall of the classes with test images (sklearn's balanced_accuracy_score):
        # the accuracy a balanced test set would give, unmoved by the majority class
        "balanced_accuracy": float(recall[support > 0].mean()) if support.any() else 0.0,
        "loss": float(np.mean(sample_losses(y_true, probabilities))),  # mean cross-entropy
        "top_k": top_k_accuracies(y_true, probabilities),
        **averages,
        **auc_averages(y_true, probabilities, aucs),
        "per_class": [
            {
                "class": class_names[k],
                "precision": float(precision[k]),
                "recall": float(recall[k]),
                "f1": float(f1[k]),
                "support": int(support[k]),
                "auc": aucs[k],
            }
            for k in range(K)
        ],
        "confusion_matrix": matrix.astype(int).tolist(),
        "most_confused": most_confused(matrix, class_names),
        "highest_loss": highest_loss(y_true, probabilities, class_names),
    }


def roc_curves(y_true: np.ndarray, probabilities: np.ndarray) -> dict:
    """One-vs-rest ROC curves: {k: (fpr, tpr, auc)} per class index, plus "micro" and "macro".

    A class absent from `y_true` gets no entry. "micro" pools every (image, class) pair; the
    "macro" curve is the mean TPR of the class curves on their joint FPR grid, and its auc is
    the mean of the per-class AUCs (metrics.json's auc_macro: None when a class is missing).
    """
    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    K = probabilities.shape[1]
    check_predictions(y_true, probabilities, K)
    if K < 2:
        return {}
    indicator = one_hot(y_true.astype(np.int64), K)  # (N, K)
    curves: dict = {}
    for k in range(K):
        if _defined(indicator[:, k]):
            fpr, tpr = roc_curve(indicator[:, k], probabilities[:, k])
            curves[k] = (fpr, tpr, curve_area(fpr, tpr))  # the curve's own area: no second sort
    classes = [curves[k] for k in range(K) if k in curves]
    fpr, tpr = roc_curve(indicator.ravel(), probabilities.ravel())
    curves["micro"] = (fpr, tpr, curve_area(fpr, tpr))  # = auc_averages' micro AUC
    if classes:
        grid = np.unique(np.concatenate([c[0] for c in classes]))  # (M,) every class's FPRs
        mean_tpr = np.mean([np.interp(grid, c[0], c[1]) for c in classes], axis=0)  # (M,)
        macro = float(np.mean([c[2] for c in classes])) if len(classes) == K else None
        curves["macro"] = (grid, mean_tpr, macro)
    return curves
