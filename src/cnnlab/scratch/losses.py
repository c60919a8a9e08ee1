"""Classification losses on scores: softmax cross-entropy and the multiclass SVM (hinge).

Each takes scores x (N, K) and labels y (N,) in 0..K-1 and returns (loss, dx): the mean
loss over the N samples and its gradient dx (N, K).
"""

from __future__ import annotations

import numpy as np

from cnnlab.errors import ModelError


def _check(x: np.ndarray, y: np.ndarray, name: str) -> None:
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ModelError(
            f"{name}: expected scores (N, K) and labels (N,), got {x.shape} and {y.shape}"
        )
    if y.size and (y.min() < 0 or y.max() >= x.shape[1]):
        raise ModelError(
            f"{name}: labels must lie in 0..{x.shape[1] - 1}, got {y.min()}..{y.max()}"
        )


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax of scores (N, K), shifted by the row maximum so exp never overflows."""
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(x) against y, and dx = (softmax(x) - onehot(y)) / N."""
    _check(x, y, "softmax loss")
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)  # (N, K)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N)
    loss = -float(log_probs[rows, y].sum()) / N
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    return loss, dx / x.dtype.type(N)


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean multiclass hinge loss sum_{j != y} max(0, x_j - x_y + 1), and its gradient dx."""
    _check(x, y, "svm loss")
    N = x.shape[0]
    rows = np.arange(N)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)  # (N, K)
    margins[rows, y] = 0
    loss = float(margins.sum()) / N
    positive = (margins > 0).astype(x.dtype)  # (N, K)
    positive[rows, y] = -positive.sum(axis=1)
    return loss, positive / x.dtype.type(N)
