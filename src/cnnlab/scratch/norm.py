"""Batch normalisation over features (N, D) and its spatial form over channels (N, C, H, W).

Training normalises with the batch's mean and (biased) variance and returns, in the cache,
the running statistics updated as `running = momentum * running + (1 - momentum) * batch`
(the variance term unbiased, as PyTorch does); at test time the running statistics are used.
Nothing is mutated: the caller keeps `cache.running` for the next step.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cnnlab.errors import ModelError

EPS = 1e-5  # added to the variance before its square root (as PyTorch's BatchNorm)


class BatchNormCache(NamedTuple):
    """Normalised input, 1/std, gamma, whether batch statistics were used, and the new running stats."""

    x_hat: np.ndarray  # (N, D)
    inv_std: np.ndarray  # (D,)
    gamma: np.ndarray  # (D,)
    train: bool
    running: tuple[np.ndarray, np.ndarray]  # (mean (D,), var (D,)) after this step


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running: tuple[np.ndarray, np.ndarray],
    *,
    train: bool,
    momentum: float = 0.9,
    eps: float = EPS,
) -> tuple[np.ndarray, BatchNormCache]:
    """out = gamma * (x - mean) / sqrt(var + eps) + beta per feature: x (N, D) -> (N, D).

    `running` is (mean (D,), var (D,)); training uses batch statistics, testing the running ones.
    """
    N, D = x.shape
    if gamma.shape != (D,) or beta.shape != (D,):
        raise ModelError(
            f"batch norm: an input of {D} features needs gamma and beta of shape ({D},), "
            f"got {gamma.shape} and {beta.shape}"
        )
    running_mean, running_var = running
    if train:
        if N < 2:
            raise ModelError("batch norm: training needs at least 2 samples per batch, got 1")
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        unbiased = var * (N / (N - 1))
        running = (
            momentum * running_mean + (1 - momentum) * mean,
            momentum * running_var + (1 - momentum) * unbiased,
        )
    else:
        mean, var = running_mean, running_var
    inv_std = 1 / np.sqrt(var + eps)  # (D,)
    x_hat = (x - mean) * inv_std  # (N, D)
    return gamma * x_hat + beta, BatchNormCache(x_hat, inv_std, gamma, train, running)


def batchnorm_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx (N, D), dgamma (D,), dbeta (D,)) of batch norm; dout (N, D)."""
    x_hat, inv_std, gamma, train, _ = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma  # (N, D)
    if not train:
        return dx_hat * inv_std, dgamma, dbeta
    N = dout.shape[0]
    dx = (inv_std / N) * (N * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running: tuple[np.ndarray, np.ndarray],
    *,
    train: bool,
    momentum: float = 0.9,
    eps: float = EPS,
) -> tuple[np.ndarray, BatchNormCache]:
    """Batch norm per channel over (N, H, W): x (N, C, H, W) -> (N, C, H, W); gamma, beta (C,)."""
    if x.ndim != 4:
        raise ModelError(f"spatial batch norm: expected x of shape (N, C, H, W), got {x.shape}")
    N, C, H, W = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)  # (N*H*W, C)
    out, cache = batchnorm_forward(
        flat, gamma, beta, running, train=train, momentum=momentum, eps=eps
    )
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dx (N, C, H, W), dgamma (C,), dbeta (C,)) of spatial batch norm."""
    N, C, H, W = dout.shape
    flat = dout.transpose(0, 2, 3, 1).reshape(N * H * W, C)
    dx, dgamma, dbeta = batchnorm_backward(flat, cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta
