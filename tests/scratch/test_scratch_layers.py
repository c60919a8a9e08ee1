"""Every scratch layer's backward pass: against centred differences (float64) and torch autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlab.errors import ModelError
from cnnlab.scratch import composite, conv, layers, losses, norm, pool
from cnnlab.scratch.checks import LAYER_TOLERANCE, layer_checks
from cnnlab.scratch.gradient_check import numeric_gradient, relative_error

CHECKS = layer_checks(seed=0)


@pytest.mark.parametrize("check", CHECKS, ids=[f"{c.layer}-{c.wrt}" for c in CHECKS])
def test_backward_matches_centred_differences(check):
    assert check.error < LAYER_TOLERANCE


def test_every_layer_is_checked():
    names = {check.layer.split(" s")[0].split(" 2x2")[0].split(" 3x3")[0] for check in CHECKS}
    expected = {
        "affine", "relu", "dropout", "batchnorm", "spatial batchnorm", "conv naive", "conv fast",
        "max pool naive", "max pool fast", "conv-relu-pool", "affine-relu", "softmax loss",
        "svm loss",
    }  # fmt: skip
    assert names == expected


def test_numeric_gradient_and_relative_error_detect_a_wrong_gradient():
    x = np.random.default_rng(0).standard_normal((3, 4))
    numeric = numeric_gradient(lambda v: np.sum(v**3), x)
    np.testing.assert_allclose(numeric, 3 * x**2, rtol=1e-6)
    assert relative_error(numeric, 3 * x**2) < 1e-7
    assert relative_error(numeric, 3 * x**2 + 1e-3) > 1e-5  # a small bug is seen
    np.testing.assert_array_equal(x, np.random.default_rng(0).standard_normal((3, 4)))  # untouched


def _torch(*arrays):
    return [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]


def _grads(out: torch.Tensor, dout: np.ndarray, inputs) -> list[np.ndarray]:
    out.backward(torch.from_numpy(dout))
    return [t.grad.numpy() for t in inputs]


def _assert_close(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("stride,pad", [(1, 0), (1, 1), (2, 1), (3, 2)])
@pytest.mark.parametrize("which", ["naive", "fast"])
def test_conv_matches_torch(rng, stride, pad, which):
    x, w, b = (
        rng.standard_normal((2, 3, 9, 8)),
        rng.standard_normal((4, 3, 3, 3)),
        rng.standard_normal(4),
    )
    forward = getattr(conv, f"conv_forward_{which}")
    backward = getattr(conv, f"conv_backward_{which}")
    out, cache = forward(x, w, b, stride, pad)
    tx, tw, tb = _torch(x, w, b)
    expected = F.conv2d(tx, tw, tb, stride=stride, padding=pad)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    _assert_close(backward(dout, cache), _grads(expected, dout, (tx, tw, tb)))


@pytest.mark.parametrize("size,stride", [(2, 2), (3, 2), (2, 1), (3, 3)])
@pytest.mark.parametrize("which", ["naive", "fast"])
def test_max_pool_matches_torch(rng, size, stride, which):
    x = rng.standard_normal((2, 3, 9, 8))
    out, cache = getattr(pool, f"max_pool_forward_{which}")(x, size, size, stride)
    (tx,) = _torch(x)
    expected = F.max_pool2d(tx, size, stride)
    np.testing.assert_array_equal(out, expected.detach().numpy())
    dout = rng.standard_normal(out.shape)
    _assert_close(
        [getattr(pool, f"max_pool_backward_{which}")(dout, cache)], _grads(expected, dout, (tx,))
    )


def test_affine_and_relu_match_torch(rng):
    x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    out, cache = composite.affine_relu_forward(x, w, b)
    tx, tw, tb = _torch(x, w, b)
    expected = torch.relu(tx.reshape(4, -1) @ tw + tb)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    _assert_close(composite.affine_relu_backward(dout, cache), _grads(expected, dout, (tx, tw, tb)))


def test_dropout_matches_torch_with_the_same_mask(rng):
    x = rng.standard_normal((50, 40))
    out, mask = layers.dropout_forward(x, 0.3, train=True, rng=np.random.default_rng(1))
    kept = mask != 0
    assert abs(kept.mean() - 0.7) < 0.03  # each unit kept with probability 1 - p
    np.testing.assert_allclose(mask[kept], 1 / 0.7)  # inverted: the survivors scaled up
    (tx,) = _torch(x)
    expected = tx * torch.from_numpy(mask)
    np.testing.assert_array_equal(out, expected.detach().numpy())
    dout = rng.standard_normal(out.shape)
    _assert_close([layers.dropout_backward(dout, mask)], _grads(expected, dout, (tx,)))
    again, _ = layers.dropout_forward(x, 0.3, train=True, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(again, out)  # a seeded generator repeats the mask
    same, cache = layers.dropout_forward(x, 0.3, train=False)
    assert same is x and cache is None


def test_batchnorm_matches_torch_and_updates_running_stats(rng):
    x, gamma, beta = (
        3 * rng.standard_normal((16, 5)) + 2,
        rng.standard_normal(5),
        rng.standard_normal(5),
    )
    running = (np.zeros(5), np.ones(5))
    out, cache = norm.batchnorm_forward(x, gamma, beta, running, train=True, momentum=0.9)
    tx, tg, tb = _torch(x, gamma, beta)
    mean, var = torch.zeros(5, dtype=torch.float64), torch.ones(5, dtype=torch.float64)
    expected = F.batch_norm(tx, mean, var, tg, tb, training=True, momentum=0.1, eps=1e-5)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cache.running[0], mean.numpy(), rtol=1e-12)  # torch updates in place
    np.testing.assert_allclose(cache.running[1], var.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(running[0], np.zeros(5))  # ours returns new statistics instead
    dout = rng.standard_normal(out.shape)
    _assert_close(norm.batchnorm_backward(dout, cache), _grads(expected, dout, (tx, tg, tb)))
    test_out, _ = norm.batchnorm_forward(x, gamma, beta, cache.running, train=False)
    torch_test = F.batch_norm(torch.from_numpy(x), mean, var, tg, tb, training=False, eps=1e-5)
    np.testing.assert_allclose(test_out, torch_test.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_spatial_batchnorm_matches_torch(rng):
    x, gamma, beta = (
        2 * rng.standard_normal((4, 3, 5, 6)) - 1,
        rng.standard_normal(3),
        rng.standard_normal(3),
    )
    out, cache = norm.spatial_batchnorm_forward(
        x, gamma, beta, (np.zeros(3), np.ones(3)), train=True
    )
    tx, tg, tb = _torch(x, gamma, beta)
    expected = F.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-5)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    _assert_close(
        norm.spatial_batchnorm_backward(dout, cache), _grads(expected, dout, (tx, tg, tb))
    )


def test_losses_match_torch(rng):
    x, y = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    for ours, theirs in (
        (losses.softmax_loss, lambda t: F.cross_entropy(t, torch.from_numpy(y))),
        (losses.svm_loss, lambda t: 5 * F.multi_margin_loss(t, torch.from_numpy(y), margin=1.0)),
    ):  # torch's hinge also divides by the number of classes
        loss, dx = ours(x, y)
        (tx,) = _torch(x)
        expected = theirs(tx)
        assert loss == pytest.approx(expected.item(), rel=1e-12)
        expected.backward()
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_conv_relu_pool_matches_torch(rng):
    x, w, b = (
        rng.standard_normal((2, 3, 8, 8)),
        rng.standard_normal((4, 3, 3, 3)),
        rng.standard_normal(4),
    )
    out, cache = composite.conv_relu_pool_forward(x, w, b, pad=1)
    tx, tw, tb = _torch(x, w, b)
    expected = F.max_pool2d(torch.relu(F.conv2d(tx, tw, tb, padding=1)), 2)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    _assert_close(
        composite.conv_relu_pool_backward(dout, cache), _grads(expected, dout, (tx, tw, tb))
    )


def test_shape_errors_name_the_layer():
    x = np.zeros((2, 3, 8, 8))
    with pytest.raises(ModelError, match=r"conv: expected x \(N, C, H, W\).*w \(4, 2, 3, 3\)"):
        conv.conv_forward_fast(x, np.zeros((4, 2, 3, 3)), np.zeros(4))
    with pytest.raises(ModelError, match="conv: a kernel of 11 does not fit an input of 8"):
        conv.conv_forward_naive(x, np.zeros((4, 3, 11, 11)), np.zeros(4))
    with pytest.raises(ModelError, match="max pool: window 9x9 with stride 2 does not fit"):
        pool.max_pool_forward_fast(x, 9, 9, 2)
    with pytest.raises(ModelError, match=r"affine: an input of 192 features .* got w \(10, 5\)"):
        layers.affine_forward(x, np.zeros((10, 5)), np.zeros(5))
    with pytest.raises(ModelError, match=r"softmax loss: labels must lie in 0..4, got 0..7"):
        losses.softmax_loss(np.zeros((2, 5)), np.array([0, 7]))
    with pytest.raises(ModelError, match="dropout: training with p > 0 needs a random generator"):
        layers.dropout_forward(x, 0.5, train=True)
