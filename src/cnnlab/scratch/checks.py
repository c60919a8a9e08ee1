"""The gradient-check table: every layer and model against centred differences, in float64.

`gradient_report(seed)` gives one `GradCheck` per (layer, input) and per model parameter;
`format_report` prints them. `cnnlab scratch gradcheck` shows this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnnlab.scratch import composite, conv, layers, losses, norm, pool
from cnnlab.scratch.gradient_check import model_gradient_errors, numeric_gradient, relative_error
from cnnlab.scratch.models import FullyConnectedNet, ThreeLayerConvNet

LAYER_TOLERANCE = 1e-7  # the acceptance bound for layers
LAYER_STEP = 1e-4  # h for layers: exact for linear maps, so rounding is what to keep small
MODEL_TOLERANCE = 1e-5  # a whole model's loss sums many terms, and a ReLU kink can sit within h
MODEL_STEP = 1e-5  # h for models: rounding (~1e-16 * loss / h) and truncation (~h**2) balance


@dataclass(frozen=True)
class GradCheck:
    """The relative error of one analytic gradient against its numeric estimate."""

    layer: str
    wrt: str  # the input or parameter differentiated against
    error: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.error < self.tolerance


def check_layer(
    layer: str,
    forward: Callable[..., tuple[np.ndarray, object]],
    backward: Callable[..., tuple],
    inputs: dict[str, np.ndarray],
    wrt: tuple[str, ...],
    rng: np.random.Generator,
) -> list[GradCheck]:
    """Check `backward`'s gradients (in the order of `wrt`) of a (forward, backward) pair."""
    out, cache = forward(**inputs)
    dout = rng.standard_normal(out.shape)
    analytic = backward(dout, cache)
    analytic = analytic if isinstance(analytic, tuple) else (analytic,)
    rows = []
    for key, grad in zip(wrt, analytic, strict=True):

        def f(value: np.ndarray, key: str = key) -> np.ndarray:
            return forward(**{**inputs, key: value})[0]

        numeric = numeric_gradient(f, inputs[key], dout, h=LAYER_STEP)
        rows.append(GradCheck(layer, key, relative_error(numeric, grad), LAYER_TOLERANCE))
    return rows


def check_loss(layer: str, loss: Callable, x: np.ndarray, y: np.ndarray) -> GradCheck:
    """Check a loss's dx (N, K) against the numeric gradient of the scalar loss."""
    _, dx = loss(x, y)
    numeric = numeric_gradient(lambda value: loss(value, y)[0], x)
    return GradCheck(layer, "x", relative_error(numeric, dx), LAYER_TOLERANCE)


def layer_checks(seed: int = 0) -> list[GradCheck]:
    """Every layer's backward pass against centred differences, on small random float64 inputs."""
    rng = np.random.default_rng(seed)
    n = rng.standard_normal
    x4, w4, b4 = n((2, 3, 6, 5)), n((3, 3, 3, 3)), n(3)
    running = (n(5), np.abs(n(5)) + 0.5)
    spatial_running = (n(3), np.abs(n(3)) + 0.5)
    rows = check_layer(
        "affine", layers.affine_forward, layers.affine_backward,
        {"x": n((4, 2, 3)), "w": n((6, 5)), "b": n(5)}, ("x", "w", "b"), rng,
    )  # fmt: skip
    rows += check_layer(
        "relu", layers.relu_forward, layers.relu_backward, {"x": n((4, 5))}, ("x",), rng
    )

    def dropout(x: np.ndarray):  # the same mask on every call
        return layers.dropout_forward(x, 0.3, train=True, rng=np.random.default_rng(seed))

    rows += check_layer("dropout", dropout, layers.dropout_backward, {"x": n((4, 5))}, ("x",), rng)

    def batchnorm(x, gamma, beta):
        return norm.batchnorm_forward(x, gamma, beta, running, train=True)

    def spatial(x, gamma, beta):
        return norm.spatial_batchnorm_forward(x, gamma, beta, spatial_running, train=True)

    rows += check_layer(
        "batchnorm", batchnorm, norm.batchnorm_backward,
        {"x": 3 * n((8, 5)) + 2, "gamma": n(5), "beta": n(5)}, ("x", "gamma", "beta"), rng,
    )  # fmt: skip
    rows += check_layer(
        "spatial batchnorm", spatial, norm.spatial_batchnorm_backward,
        {"x": 3 * n((2, 3, 4, 5)) + 2, "gamma": n(3), "beta": n(3)}, ("x", "gamma", "beta"), rng,
    )  # fmt: skip
    for name, forward, backward in (
        ("conv naive", conv.conv_forward_naive, conv.conv_backward_naive),
        ("conv fast", conv.conv_forward_fast, conv.conv_backward_fast),
    ):
        for stride, pad in ((1, 1), (2, 0)):
            rows += check_layer(
                f"{name} s{stride} p{pad}",
                lambda x, w, b, stride=stride, pad=pad, f=forward: f(x, w, b, stride, pad),
                backward, {"x": x4, "w": w4, "b": b4}, ("x", "w", "b"), rng,
            )  # fmt: skip
    spaced = 0.1 * rng.permutation(2 * 2 * 6 * 6).reshape(2, 2, 6, 6)  # no two maxima within h
    for name, forward, backward in (
        ("max pool naive", pool.max_pool_forward_naive, pool.max_pool_backward_naive),
        ("max pool fast", pool.max_pool_forward_fast, pool.max_pool_backward_fast),
    ):
        for size, stride in ((2, 2), (3, 2)):
            rows += check_layer(
                f"{name} {size}x{size} s{stride}",
                lambda x, size=size, stride=stride, f=forward: f(x, size, size, stride),
                backward, {"x": spaced}, ("x",), rng,
            )  # fmt: skip
    rows += check_layer(
        "conv-relu-pool",
        lambda x, w, b: composite.conv_relu_pool_forward(x, w, b, pad=1),
        composite.conv_relu_pool_backward,
        {"x": n((2, 3, 8, 8)), "w": w4, "b": b4}, ("x", "w", "b"), rng,
    )  # fmt: skip
    rows += check_layer(
        "affine-relu", composite.affine_relu_forward, composite.affine_relu_backward,
        {"x": n((4, 6)), "w": n((6, 5)), "b": n(5)}, ("x", "w", "b"), rng,
    )  # fmt: skip
    scores, labels = n((6, 5)), rng.integers(0, 5, 6)
    rows.append(check_loss("softmax loss", losses.softmax_loss, scores, labels))
    rows.append(check_loss("svm loss", losses.svm_loss, scores, labels))
    return rows


def model_checks(seed: int = 0) -> list[GradCheck]:
    """Each model's gradients, per parameter, against centred differences of its loss (float64)."""
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((8, 3, 8, 8)), rng.integers(0, 5, 8)
    models = {
        "ThreeLayerConvNet": ThreeLayerConvNet(
            (3, 8, 8), num_filters=3, filter_size=3, hidden_dim=7, num_classes=5,
            weight_scale=1e-1, reg=0.1, dtype=np.float64, seed=seed,
        ),
        "FullyConnectedNet (batchnorm, dropout)": FullyConnectedNet(
            (9, 7), 3 * 8 * 8, num_classes=5, dropout=0.25, normalization="batchnorm",
            weight_scale=5e-2, reg=0.1, dtype=np.float64, seed=seed,
        ),
    }  # fmt: skip
    return [
        GradCheck(name, parameter, error, MODEL_TOLERANCE)
        for name, model in models.items()
        for parameter, error in model_gradient_errors(model, X, y, h=MODEL_STEP, seed=seed).items()
    ]


def gradient_report(seed: int = 0) -> list[GradCheck]:
    """Every layer, then every model."""
    return layer_checks(seed) + model_checks(seed)


def format_report(rows: list[GradCheck]) -> str:
    """The checks as a text table: layer, input, relative error, tolerance, ok."""
    width = max(len(row.layer) for row in rows)
    lines = [f"{'layer':<{width}}  {'wrt':<8} {'rel. error':>10}  {'bound':>7}  ok"]
    for row in rows:
        mark = "yes" if row.ok else "NO"
        lines.append(
            f"{row.layer:<{width}}  {row.wrt:<8} {row.error:>10.2e}  {row.tolerance:>7.0e}  {mark}"
        )
    failed = sum(not row.ok for row in rows)
    lines.append(f"{len(rows)} gradients checked, {failed} above their bound")
    return "\n".join(lines)
