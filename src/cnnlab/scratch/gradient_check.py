"""Numeric gradients by centred differences, and the relative error that compares them.

    numeric_gradient(f, x, dout, h)  # of an array function, contracted with dout
    numeric_gradient(f, x)           # of a scalar function
    model_gradient_errors(model, X, y)  # {parameter: relative error} of a whole model

Work in float64: with h = 1e-5 the centred difference is accurate to about h**2 and float32
rounding alone would swamp it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a| + |b|, 1e-8), elementwise: 0 for equal arrays, ~1 for unrelated ones."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numeric_gradient(
    f: Callable[[np.ndarray], np.ndarray | float],
    x: np.ndarray,
    dout: np.ndarray | None = None,
    h: float = 1e-5,
) -> np.ndarray:
    """d(sum(f(x) * dout))/dx by centred differences, one element of x at a time; shape of x.

    With `dout=None`, f must return a scalar and its plain gradient is given. `x` is not
    changed: f is called on a perturbed copy.
    """
    x = np.array(x, dtype=np.float64)  # a copy, perturbed in place
    grad = np.zeros_like(x)
    weight = 1.0 if dout is None else np.asarray(dout, dtype=np.float64)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        plus = np.array(f(x), dtype=np.float64)  # a copy: f may return a view of its state
        x[index] = old - h
        minus = np.asarray(f(x), dtype=np.float64)
        x[index] = old
        # difference first: outputs the element does not touch cancel exactly, not after a sum
        grad[index] = np.sum((plus - minus) * weight) / (2 * h)
    return grad


def model_gradient_errors(
    model, X: np.ndarray, y: np.ndarray, *, h: float = 1e-6, seed: int = 0
) -> dict[str, float]:
    """{parameter name: relative error} between `model.loss`'s gradients and centred differences.

    Every call draws dropout masks from `np.random.default_rng(seed)`, so the loss is the same
    function throughout; the model's parameters and buffers are left as they were.
    """
    buffers = {name: value.copy() for name, value in getattr(model, "buffers", {}).items()}
    _, grads = model.loss(X, y, rng=np.random.default_rng(seed))
    errors = {}
    for name in sorted(model.params):
        original = model.params[name]

        def loss_at(value: np.ndarray, name: str = name) -> float:
            model.params[name] = value
            return model.loss(X, y, rng=np.random.default_rng(seed))[0]

        try:
            numeric = numeric_gradient(loss_at, original, h=h)
        finally:
            model.params[name] = original
        errors[name] = relative_error(numeric, grads[name])
    if buffers:
        model.buffers.update(buffers)
    return errors
