"""Convolution, forward and backward: a naive loop version (the reference) and a fast one.

Both take x (N, C, H, W), w (F, C, kh, kw), b (F,), any stride and zero padding `pad`, and
give out (N, F, Ho, Wo) with

    Ho = (H + 2 * pad - kh) // stride + 1,   Wo = (W + 2 * pad - kw) // stride + 1

(rows or columns a stride step cannot reach are ignored, as in PyTorch).

The fast version is im2col: the input, padded and laid out as (C, N, Hp, Wp), is viewed
through strides as (C, kh, kw, N, Ho, Wo) windows, copied once into a matrix of shape
(C*kh*kw, N*Ho*Wo), and multiplied by the filters (F, C*kh*kw) in one matmul. The backward
pass gets the window gradients with one matmul too and adds them back into the padded input
with one strided slice-add per kernel offset (kh*kw adds, no `np.add.at`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cnnlab.errors import ModelError


def conv_output_size(size: int, kernel: int, stride: int, pad: int, layer: str = "conv") -> int:
    """(size + 2*pad - kernel) // stride + 1, checked to be at least 1."""
    if stride < 1 or pad < 0:
        raise ModelError(
            f"{layer}: stride must be >= 1 and pad >= 0, got stride {stride}, pad {pad}"
        )
    out = (size + 2 * pad - kernel) // stride + 1
    if size + 2 * pad < kernel or out < 1:
        raise ModelError(
            f"{layer}: a kernel of {kernel} does not fit an input of {size} with pad {pad}; "
            f"expected size + 2*pad >= kernel"
        )
    return out


def _check(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> None:
    """Shapes of x (N, C, H, W), w (F, C, kh, kw), b (F,) fit each other, or a ModelError."""
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1] or b.shape != (w.shape[0],):
        raise ModelError(
            f"conv: expected x (N, C, H, W), w (F, C, kh, kw), b (F,) with matching C and F, "
            f"got x {x.shape}, w {w.shape}, b {b.shape}"
        )


def conv_forward_naive(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0
) -> tuple[np.ndarray, tuple]:
    """Convolution by explicit loops over every output element: x (N, C, H, W) -> (N, F, Ho, Wo).

    Ho = (H + 2*pad - kh) // stride + 1, Wo likewise. Returns (out, cache).
    """
    _check(x, w, b)
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    Ho = conv_output_size(H, kh, stride, pad)
    Wo = conv_output_size(W, kw, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # (N, C, Hp, Wp)
    out = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, w))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, stride, pad)


def conv_backward_naive(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx, dw, db) of the naive convolution, by the same loops; dout (N, F, Ho, Wo)."""
    x, w, b, stride, pad = cache
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    _, _, Ho, Wo = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # (N, C, Hp, Wp)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    rows = slice(i * stride, i * stride + kh)
                    cols = slice(j * stride, j * stride + kw)
                    g = dout[n, f, i, j]
                    dw[f] += g * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += g * w[f]
                    db[f] += g
    return dxp[:, :, pad : pad + H, pad : pad + W], dw, db


class ConvCache(NamedTuple):
    """What the fast backward pass needs: the im2col matrix and the geometry."""

    cols: np.ndarray  # (C*kh*kw, N*Ho*Wo)
    x_shape: tuple[int, int, int, int]  # (N, C, H, W)
    w: np.ndarray  # (F, C, kh, kw)
    stride: int
    pad: int


def conv_forward_fast(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0
) -> tuple[np.ndarray, ConvCache]:
    """Convolution by im2col and one matmul: x (N, C, H, W) -> (N, F, Ho, Wo).

    Ho = (H + 2*pad - kh) // stride + 1, Wo likewise. Returns (out, cache); `out` is a
    transposed view of an (F, N, Ho, Wo) array, which the backward pass reads without a copy.
    """
    _check(x, w, b)
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    Ho = conv_output_size(H, kh, stride, pad)
    Wo = conv_output_size(W, kw, stride, pad)
    dtype = np.result_type(x, w)
    xp = np.zeros((C, N, H + 2 * pad, W + 2 * pad), dtype=dtype)  # (C, N, Hp, Wp)
    xp[:, :, pad : pad + H, pad : pad + W] = x.transpose(1, 0, 2, 3)
    sC, sN, sH, sW = xp.strides
    windows = as_strided(
        xp,
        shape=(C, kh, kw, N, Ho, Wo),
        strides=(sC, sH, sW, sN, sH * stride, sW * stride),
        writeable=False,
    )
    cols = windows.reshape(C * kh * kw, N * Ho * Wo)  # the one im2col copy
    out = w.reshape(F, -1).astype(dtype, copy=False) @ cols  # (F, N*Ho*Wo)
    out += b.reshape(F, 1)
    out = out.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)  # (N, F, Ho, Wo) view
    return out, ConvCache(cols, (N, C, H, W), w, stride, pad)


def conv_backward_fast(
    dout: np.ndarray, cache: ConvCache, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients (dx, dw, db) of the fast convolution; dout (N, F, Ho, Wo).

    dw and db are one matmul and one sum; dx is one matmul plus kh*kw strided slice-adds into
    the padded input. `need_dx=False` skips dx (None) for a network's first layer.
    """
    cols, (N, C, H, W), w, stride, pad = cache
    F, _, kh, kw = w.shape
    _, _, Ho, Wo = dout.shape
    dout_t = dout.transpose(1, 0, 2, 3).reshape(F, N * Ho * Wo)  # free when dout came from forward
    db = dout_t.sum(axis=1)  # (F,)
    dw = (dout_t @ cols.T).reshape(w.shape)  # (F, C, kh, kw)
    if not need_dx:
        return None, dw, db
    dcols = (w.reshape(F, -1).T @ dout_t).reshape(C, kh, kw, N, Ho, Wo)
    dxp = np.zeros((C, N, H + 2 * pad, W + 2 * pad), dtype=dcols.dtype)  # (C, N, Hp, Wp)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i, i + stride * (Ho - 1) + 1, stride)
            columns = slice(j, j + stride * (Wo - 1) + 1, stride)
            dxp[:, :, rows, columns] += dcols[:, i, j]  # (C, N, Ho, Wo)
    dx = dxp[:, :, pad : pad + H, pad : pad + W].transpose(1, 0, 2, 3)  # (N, C, H, W)
    return np.ascontiguousarray(dx), dw, db
