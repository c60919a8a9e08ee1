"""Elementwise and dense layers: affine, ReLU and inverted dropout, as (forward, backward) pairs.

Every `*_forward` returns (out, cache) and every `*_backward(dout, cache)` the gradients of
the forward's inputs, in the CS231n style; the heavier layers live in `conv`, `pool`, `norm`.
"""

from __future__ import annotations

import numpy as np

from cnnlab.errors import ModelError


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """out = x.reshape(N, D) @ w + b: x (N, d1, ..., dk) with D = d1*...*dk, w (D, M), b (M,) -> (N, M)."""
    N = x.shape[0]
    flat = x.reshape(N, -1)  # (N, D)
    if w.ndim != 2 or flat.shape[1] != w.shape[0] or b.shape != (w.shape[1],):
        raise ModelError(
            f"affine: an input of {flat.shape[1]} features per sample needs w ({flat.shape[1]}, M) "
            f"and b (M,), got w {w.shape} and b {b.shape}"
        )
    return flat @ w + b, (x, w)


def affine_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx shaped like x, dw (D, M), db (M,)) of the affine layer; dout (N, M)."""
    x, w = cache
    flat = x.reshape(x.shape[0], -1)  # (N, D)
    dx = (dout @ w.T).reshape(x.shape)
    return dx, flat.T @ dout, dout.sum(axis=0)


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """out = max(x, 0), any shape; the cache is the input."""
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """dx = dout where the input was positive, else 0 (the subgradient 0 at 0)."""
    return np.where(cache > 0, dout, np.zeros((), dtype=dout.dtype))


def dropout_forward(
    x: np.ndarray, p: float, *, train: bool, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverted dropout: in training each unit is zeroed with probability `p` and the rest scaled by 1/(1-p).

    Any shape; at test time (or p = 0) the identity. The cache is the scaled mask (or None);
    `rng` draws the mask, so a seeded generator repeats it.
    """
    if not 0 <= p < 1:
        raise ModelError(
            f"dropout: p is the probability of dropping a unit, expected 0 <= p < 1, got {p}"
        )
    if not train or p == 0:
        return x, None
    if rng is None:
        raise ModelError("dropout: training with p > 0 needs a random generator (rng=...)")
    mask = (rng.random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1 - p)
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache: np.ndarray | None) -> np.ndarray:
    """dx = dout * mask (the identity when the forward pass was the identity)."""
    return dout if cache is None else dout * cache
