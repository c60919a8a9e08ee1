"""scikit-learn's classification metrics, as NumPy formulas with the same definitions.

Importing scikit-learn takes about 1 s of a 2-core CPU (it pulls in SciPy), which was an
eighth of a one-epoch `cnnlab train` (issue #18). These functions follow scikit-learn's
definitions step by step — `confusion_matrix`, `precision_recall_fscore_support` with
`zero_division=0`, `top_k_accuracy_score` (its tie order), `roc_curve` with
`drop_intermediate=True` and `roc_auc_score` (trapezoids under that curve, so ties count
half) — and `tests/evaluate/test_classification.py` holds them equal to scikit-learn's on
random, tied and degenerate inputs.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts: rows are true classes, columns predicted ones."""
    cells = y_true.astype(np.int64) * num_classes + predicted.astype(np.int64)  # (N,)
    return np.bincount(cells, minlength=num_classes * num_classes).reshape(num_classes, -1)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def precision_recall_f1(
    matrix: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class (precision, recall, F1, support) from a confusion matrix; each (K,)."""
    true_positives = np.diag(matrix)  # (K,)
    predicted_count = matrix.sum(axis=0)  # (K,) images predicted as each class
    support = matrix.sum(axis=1)  # (K,) images of each true class
    precision = _ratio(true_positives, predicted_count)
    recall = _ratio(true_positives, support)
    # F1 as scikit-learn (>= 1.3) computes it: 2 tp / (2 tp + fp + fn)
    f1 = _ratio(2 * true_positives, predicted_count + support)
    return precision, recall, f1, support


def averaged(per_class: np.ndarray, support: np.ndarray, average: str) -> float:
    """ "macro": the plain mean over every class; "weighted": the mean weighted by support."""
    if average == "macro":
        return float(np.mean(per_class))
    if average == "weighted":
        total = support.sum()
        return float(np.sum(per_class * support) / total) if total > 0 else 0.0
    raise ValueError(f"average must be 'macro' or 'weighted', got {average!r}")


def top_k_accuracy(y_true: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Fraction of images whose true class is among the k highest scores. Ties are ranked as
    scikit-learn ranks them: a stable ascending sort read backwards (higher index first)."""
    order = np.argsort(scores, axis=1, kind="mergesort")[:, ::-1][:, :k]  # (N, k)
    return float(np.mean((order == y_true[:, None]).any(axis=1)))


def roc_curve(is_positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) of a one-vs-rest ROC curve, starting at (0, 0), with collinear points
    dropped. Needs at least one positive and one negative."""
    is_positive = np.asarray(is_positive).astype(np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores, kind="mergesort")[::-1]  # descending score
    scores, is_positive = scores[order], is_positive[order]
    distinct = np.where(np.diff(scores))[0]  # last index before each new score
    thresholds = np.r_[distinct, len(scores) - 1]
    true_pos = np.cumsum(is_positive)[thresholds]
    false_pos = 1 + thresholds - true_pos
    if len(false_pos) > 2:  # drop each point that lies on the line between its neighbours
        bends = np.logical_or(np.diff(false_pos, 2), np.diff(true_pos, 2))
        keep = np.where(np.r_[True, bends, True])[0]
        true_pos, false_pos = true_pos[keep], false_pos[keep]
    true_pos = np.r_[0, true_pos]
    false_pos = np.r_[0, false_pos]
    return false_pos / false_pos[-1], true_pos / true_pos[-1]


def curve_area(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Area under a ROC curve by trapezoids: a tied positive/negative pair counts one half."""
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # NumPy < 2 has only trapz
    return float(trapezoid(tpr, fpr))


def roc_auc(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """Area under `roc_curve`."""
    return curve_area(*roc_curve(is_positive, scores))
