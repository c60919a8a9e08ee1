"""Max pooling, forward and backward: a naive loop version (the reference) and a fast one.

Both take x (N, C, H, W) and windows of pool_height x pool_width moved by `stride`, and give
out (N, C, Ho, Wo) with

    Ho = (H - pool_height) // stride + 1,   Wo = (W - pool_width) // stride + 1.

The gradient of each window goes to its first maximum in row-major order (as `np.argmax`
picks it), in both versions. The fast version reshapes when the windows tile the input
(stride equal to the window, H and W multiples of it) and otherwise views the windows
through strides, scattering the backward pass with one strided slice-add per window offset.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlab.errors import ModelError


def pool_output_size(
    x_shape: tuple[int, ...], pool_height: int, pool_width: int, stride: int
) -> tuple[int, int]:
    """(Ho, Wo) of pooling an (N, C, H, W) input, or a ModelError when the window does not fit."""
    if len(x_shape) != 4:
        raise ModelError(f"max pool: expected x of shape (N, C, H, W), got {x_shape}")
    H, W = x_shape[2], x_shape[3]
    if min(pool_height, pool_width, stride) < 1 or pool_height > H or pool_width > W:
        raise ModelError(
            f"max pool: window {pool_height}x{pool_width} with stride {stride} does not fit an "
            f"input of {H}x{W}; expected 1 <= window <= input and stride >= 1"
        )
    return (H - pool_height) // stride + 1, (W - pool_width) // stride + 1


def max_pool_forward_naive(
    x: np.ndarray, pool_height: int = 2, pool_width: int = 2, stride: int = 2
) -> tuple[np.ndarray, tuple]:
    """Max pooling by explicit loops over every output element: (N, C, H, W) -> (N, C, Ho, Wo).

    Ho = (H - pool_height) // stride + 1, Wo likewise. Returns (out, cache).
    """
    Ho, Wo = pool_output_size(x.shape, pool_height, pool_width, stride)
    N, C = x.shape[:2]
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    r, s = i * stride, j * stride
                    out[n, c, i, j] = np.max(x[n, c, r : r + pool_height, s : s + pool_width])
    return out, (x, pool_height, pool_width, stride)


def max_pool_backward_naive(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Gradient dx (N, C, H, W) of naive max pooling: each window's dout to its first maximum."""
    x, pool_height, pool_width, stride = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    r, s = i * stride, j * stride
                    window = x[n, c, r : r + pool_height, s : s + pool_width]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, r + a, s + b] += dout[n, c, i, j]
    return dx


class PoolCache(NamedTuple):
    """Which offset of each window holds its maximum, and the geometry, for the fast backward pass."""

    argmax: np.ndarray  # (N, C, Ho, Wo) uint8/int64: offset within the window, row-major
    x_shape: tuple[int, int, int, int]
    x_layout: tuple[int, ...]  # x's axes from the slowest-varying in memory to the fastest
    dtype: np.dtype
    pool_height: int
    pool_width: int
    stride: int


def _tiles(x_shape: tuple[int, ...], pool_height: int, pool_width: int, stride: int) -> bool:
    """Whether the windows tile the input exactly, so a reshape finds them."""
    _, _, H, W = x_shape
    return pool_height == pool_width == stride and H % stride == 0 and W % stride == 0


def _offset_views(
    x: np.ndarray, pool_height: int, pool_width: int, stride: int
) -> list[np.ndarray]:
    """For each window offset (i, j) in row-major order, the (N, C, Ho, Wo) view of those pixels."""
    N, C, H, W = x.shape
    ph, pw = pool_height, pool_width
    if _tiles(x.shape, ph, pw, stride):
        tiles = x.reshape(N, C, H // ph, ph, W // pw, pw)  # a view: no copy
        return [tiles[:, :, :, i, :, j] for i in range(ph) for j in range(pw)]
    windows = sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::stride, ::stride]
    return [windows[..., i, j] for i in range(ph) for j in range(pw)]  # (N, C, Ho, Wo, ph, pw)


def max_pool_forward_fast(
    x: np.ndarray, pool_height: int = 2, pool_width: int = 2, stride: int = 2
) -> tuple[np.ndarray, PoolCache]:
    """Max pooling over window offsets of a reshaped (tiling) or strided view: (N, C, H, W) -> (N, C, Ho, Wo).

    Ho = (H - pool_height) // stride + 1, Wo likewise. Returns (out, cache). One vectorised
    pass per window offset keeps the running maximum and the first offset holding it.
    """
    pool_output_size(x.shape, pool_height, pool_width, stride)
    views = _offset_views(x, pool_height, pool_width, stride)
    out = views[0].copy()  # (N, C, Ho, Wo)
    argmax = np.zeros(out.shape, dtype=np.uint8 if len(views) < 256 else np.int64)
    for k, view in enumerate(views[1:], start=1):
        greater = (view > out).astype(argmax.dtype)  # strictly: ties stay with the first offset
        np.maximum(out, view, out=out)
        argmax += greater * (k - argmax)  # k where greater, else unchanged (integer arithmetic)
    layout = tuple(int(a) for a in np.argsort(x.strides, kind="stable")[::-1])
    return out, PoolCache(argmax, x.shape, layout, x.dtype, pool_height, pool_width, stride)


def _empty(shape: tuple[int, ...], layout: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised array of `shape` laid out in memory as `layout` says (like the input was)."""
    memory = np.empty([shape[axis] for axis in layout], dtype=dtype)
    return memory.transpose(np.argsort(layout))


def max_pool_backward_fast(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Gradient dx (N, C, H, W) of fast max pooling: each window's dout to its first maximum.

    dx has the memory layout of the forward pass's input, so the layer before reads it
    without a copy (the fast convolution's output is an (F, N, H, W) array seen as (N, F, H, W)).
    """
    argmax, shape, layout, dtype, ph, pw, stride = cache
    _, _, Ho, Wo = dout.shape
    dx = _empty(shape, layout, dtype)  # (N, C, H, W)
    if _tiles(shape, ph, pw, stride):  # every pixel in exactly one window: assign, no adds
        for k in range(ph * pw):
            np.multiply(dout, argmax == k, out=dx[:, :, k // pw :: ph, k % pw :: pw])
        return dx
    dx[...] = 0
    routed = np.empty(dout.shape, dtype=dtype)  # (N, C, Ho, Wo), reused for every offset
    for k in range(ph * pw):
        rows = slice(k // pw, k // pw + stride * (Ho - 1) + 1, stride)
        cols = slice(k % pw, k % pw + stride * (Wo - 1) + 1, stride)
        np.multiply(dout, argmax == k, out=routed)
        dx[:, :, rows, cols] += routed
    return dx
