"""The fast conv and pool equal the naive (reference) versions, forward and backward."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.scratch import composite, conv, pool


def _max_abs(ours, reference):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(ours, reference, strict=True))


@pytest.mark.parametrize(
    "H,W,k,stride,pad",
    [(7, 7, 3, 1, 1), (8, 9, 3, 2, 1), (9, 9, 5, 2, 2), (7, 8, 3, 3, 0), (6, 6, 2, 2, 0),
     (8, 8, 7, 1, 3), (5, 5, 1, 1, 0), (10, 7, 4, 3, 2)],
)  # fmt: skip
def test_fast_conv_equals_naive(H, W, k, stride, pad):
    rng = np.random.default_rng(H * 100 + k * 10 + stride)
    x, w, b = (
        rng.standard_normal((3, 2, H, W)),
        rng.standard_normal((4, 2, k, k)),
        rng.standard_normal(4),
    )
    out_naive, cache_naive = conv.conv_forward_naive(x, w, b, stride, pad)
    out_fast, cache_fast = conv.conv_forward_fast(x, w, b, stride, pad)
    assert out_fast.shape == (
        (3, 4, (H + 2 * pad - k) // stride + 1, (W + 2 * pad - k) // stride + 1)
    )
    assert _max_abs([out_fast], [out_naive]) < 1e-10
    dout = rng.standard_normal(out_naive.shape)
    grads_naive = conv.conv_backward_naive(dout, cache_naive)
    grads_fast = conv.conv_backward_fast(dout, cache_fast)
    assert _max_abs(grads_fast, grads_naive) < 1e-10
    skipped, dw, db = conv.conv_backward_fast(dout, cache_fast, need_dx=False)
    assert skipped is None
    np.testing.assert_array_equal(dw, grads_fast[1])


@pytest.mark.parametrize(
    "H,W,size,stride",
    [(8, 8, 2, 2), (9, 8, 2, 2), (8, 8, 3, 2), (9, 9, 3, 1), (8, 6, 2, 1), (6, 6, 3, 3)],
)
def test_fast_pool_equals_naive(H, W, size, stride):
    rng = np.random.default_rng(H * 10 + size + stride)
    x = rng.standard_normal((2, 3, H, W))
    out_naive, cache_naive = pool.max_pool_forward_naive(x, size, size, stride)
    out_fast, cache_fast = pool.max_pool_forward_fast(x, size, size, stride)
    np.testing.assert_array_equal(out_fast, out_naive)
    dout = rng.standard_normal(out_naive.shape)
    assert (
        _max_abs(
            [pool.max_pool_backward_fast(dout, cache_fast)],
            [pool.max_pool_backward_naive(dout, cache_naive)],
        )
        < 1e-10
    )


@pytest.mark.parametrize("stride", [2, 1])
def test_pool_ties_go_to_the_first_maximum_in_both_versions(stride):
    x = np.zeros((1, 2, 4, 4))
    x[0, 1, 1, 1] = x[0, 1, 0, 1] = 5.0  # a tie in one window, zeros tie in the others
    dout = np.arange(1.0, 1 + 2 * ((4 - 2) // stride + 1) ** 2).reshape(
        1, 2, *(2 * [(4 - 2) // stride + 1])
    )
    _, naive = pool.max_pool_forward_naive(x, 2, 2, stride)
    _, fast = pool.max_pool_forward_fast(x, 2, 2, stride)
    dx = pool.max_pool_backward_fast(dout, fast)
    np.testing.assert_array_equal(dx, pool.max_pool_backward_naive(dout, naive))
    if stride == 2:  # one window holds both 5s: the row-major first one gets its gradient
        assert dx[0, 1, 1, 1] == 0 and dx[0, 1, 0, 1] == dout[0, 1, 0, 0]
    assert dx.sum() == dout.sum()  # each window's gradient goes to one pixel


def test_fast_layers_keep_float32_and_pool_backward_keeps_the_input_layout():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    out, cache = composite.conv_relu_pool_forward(x, w, np.zeros(5, np.float32), pad=1)
    assert out.dtype == np.float32 and out.shape == (4, 5, 4, 4)
    a, conv_cache = conv.conv_forward_fast(
        x, w, np.zeros(5, np.float32), 1, 1
    )  # (F, N, H, W) memory
    _, pool_cache = pool.max_pool_forward_fast(a)
    da = pool.max_pool_backward_fast(np.ones((4, 5, 4, 4), np.float32), pool_cache)
    assert da.dtype == np.float32 and da.strides == a.strides
    assert all(g.dtype == np.float32 for g in composite.conv_relu_pool_backward(out, cache))
