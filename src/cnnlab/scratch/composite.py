"""Layers used together, as one (forward, backward) pair: conv-relu-pool and affine-relu.

They use the fast convolution and pooling; shapes follow the parts (see `conv`, `pool`).
"""

from __future__ import annotations

import numpy as np

from cnnlab.scratch.conv import conv_backward_fast, conv_forward_fast
from cnnlab.scratch.layers import affine_backward, affine_forward, relu_backward, relu_forward
from cnnlab.scratch.pool import max_pool_backward_fast, max_pool_forward_fast


def conv_relu_pool_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, *, stride: int = 1, pad: int = 0, pool: int = 2
) -> tuple[np.ndarray, tuple]:
    """conv -> ReLU -> pool x pool max pool (stride pool): x (N, C, H, W) -> (N, F, Ho // pool, Wo // pool).

    Ho = (H + 2*pad - kh) // stride + 1, Wo likewise. Returns (out, cache).
    """
    a, conv_cache = conv_forward_fast(x, w, b, stride, pad)  # (N, F, Ho, Wo)
    np.maximum(a, 0, out=a)  # ReLU in place: `a` is ours, and only its sign is needed later
    out, pool_cache = max_pool_forward_fast(a, pool, pool, pool)
    return out, (conv_cache, pool_cache, out)


def conv_relu_pool_backward(
    dout: np.ndarray, cache: tuple, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients (dx, dw, db) of conv-relu-pool; dx is None with `need_dx=False` (a first layer).

    The ReLU gate is applied at the pooled resolution: a window's gradient reaches its
    maximum's pre-activation exactly when that maximum, the pooled value, is positive.
    """
    conv_cache, pool_cache, out = cache
    gated = np.where(out > 0, dout, np.zeros((), dtype=dout.dtype))  # (N, F, Ho/pool, Wo/pool)
    da = max_pool_backward_fast(gated, pool_cache)
    return conv_backward_fast(da, conv_cache, need_dx=need_dx)


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """affine -> ReLU: x (N, d1, ..., dk) -> (N, M) with w (d1*...*dk, M), b (M,)."""
    a, affine_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (affine_cache, relu_cache)


def affine_relu_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx, dw, db) of affine-relu; dout (N, M)."""
    affine_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), affine_cache)
