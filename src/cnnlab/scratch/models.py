"""Networks of the scratch engine: a three-layer ConvNet and a fully-connected net of any depth.

A model holds `params` (name -> array, updated by the `Solver`) and `buffers` (batch-norm
running statistics), and `loss(X, y=None, rng=None)` gives the class scores (N, K) when `y`
is None (test mode), else (loss, grads) with grads shaped like params (training mode).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnnlab.errors import ModelError
from cnnlab.scratch.composite import (
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from cnnlab.scratch.layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    relu_backward,
    relu_forward,
)
from cnnlab.scratch.losses import softmax_loss
from cnnlab.scratch.norm import batchnorm_backward, batchnorm_forward


def _init(
    rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, scale: float | None, dtype
) -> np.ndarray:
    """Normal weights with std `scale`, or He's sqrt(2 / fan_in) when `scale` is None."""
    std = np.sqrt(2.0 / fan_in) if scale is None else scale
    return (std * rng.standard_normal(shape)).astype(dtype)


def _l2(params: dict[str, np.ndarray], names: Sequence[str], reg: float, grads: dict) -> float:
    """0.5 * reg * sum of squared weights, adding reg * W to each weight's gradient."""
    total = 0.0
    for name in names:
        w = params[name]
        total += float(np.vdot(w.ravel(), w.ravel()))
        grads[name] += w.dtype.type(reg) * w
    return 0.5 * reg * total


class ThreeLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax, on (N, C, H, W) inputs.

    The conv keeps H and W ("same" zero padding, stride 1); params W1 (F, C, k, k), b1 (F,),
    W2 (F * H//2 * W//2, hidden), b2, W3 (hidden, K), b3.
    """

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (3, 32, 32),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float | None = 1e-3,  # std of the initial weights; None = He init
        reg: float = 0.0,  # L2 strength: the loss adds 0.5 * reg * sum(W**2)
        dtype: type | str = np.float32,
        seed: int = 0,
    ) -> None:
        C, H, W = input_dim
        if filter_size % 2 == 0 or min(num_filters, filter_size, hidden_dim, num_classes) < 1:
            raise ModelError(
                f"three_layer_convnet: expected an odd filter_size and positive num_filters, "
                f"hidden_dim, num_classes; got filter_size {filter_size}, num_filters "
                f"{num_filters}, hidden_dim {hidden_dim}, num_classes {num_classes}"
            )
        if H < 2 or W < 2:
            raise ModelError(
                f"three_layer_convnet: the 2x2 pool needs H, W >= 2, got input {input_dim}"
            )
        self.dtype = np.dtype(dtype)
        self.reg = reg
        self.pad = (filter_size - 1) // 2
        rng = np.random.default_rng(seed)
        k, F = filter_size, num_filters
        flat = F * (H // 2) * (W // 2)
        self.params = {
            "W1": _init(rng, (F, C, k, k), C * k * k, weight_scale, self.dtype),
            "b1": np.zeros(F, dtype=self.dtype),
            "W2": _init(rng, (flat, hidden_dim), flat, weight_scale, self.dtype),
            "b2": np.zeros(hidden_dim, dtype=self.dtype),
            "W3": _init(rng, (hidden_dim, num_classes), hidden_dim, weight_scale, self.dtype),
            "b3": np.zeros(num_classes, dtype=self.dtype),
        }
        self.buffers: dict[str, np.ndarray] = {}

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None, rng: np.random.Generator | None = None
    ):
        """Scores (N, K) for X (N, C, H, W) when y is None, else (loss, grads)."""
        p = self.params
        X = X.astype(self.dtype, copy=False)
        h1, cache1 = conv_relu_pool_forward(X, p["W1"], p["b1"], pad=self.pad)  # (N, F, H/2, W/2)
        h2, cache2 = affine_relu_forward(h1, p["W2"], p["b2"])  # (N, hidden)
        scores, cache3 = affine_forward(h2, p["W3"], p["b3"])  # (N, K)
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads: dict[str, np.ndarray] = {}
        dh2, grads["W3"], grads["b3"] = affine_backward(dscores, cache3)
        dh1, grads["W2"], grads["b2"] = affine_relu_backward(dh2, cache2)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dh1, cache1, need_dx=False)
        loss += _l2(p, ("W1", "W2", "W3"), self.reg, grads)
        return loss, grads


class FullyConnectedNet:
    """{affine - [batch norm] - relu - [dropout]} x L-1 - affine - softmax, on any (N, ...) input.

    params W1..WL and b1..bL; with batch norm, gamma1.., beta1.. in place of the hidden layers'
    biases (beta shifts each unit, so a bias before it would get no gradient), and buffers
    running_mean1.., running_var1... `dropout` is the probability of dropping a unit (0 = none).
    """

    def __init__(
        self,
        hidden_dims: Sequence[int] = (100, 100),
        input_dim: int | tuple[int, ...] = 3 * 32 * 32,
        num_classes: int = 10,
        dropout: float = 0.0,
        normalization: str | None = None,  # None or "batchnorm"
        weight_scale: float | None = 1e-2,  # std of the initial weights; None = He init
        reg: float = 0.0,
        dtype: type | str = np.float32,
        seed: int = 0,
    ) -> None:
        if normalization not in (None, "batchnorm"):
            raise ModelError(
                f"fc: normalization must be None or 'batchnorm', got {normalization!r}"
            )
        if not 0 <= dropout < 1:
            raise ModelError(
                f"fc: dropout is a drop probability, expected 0 <= dropout < 1, got {dropout}"
            )
        if any(d < 1 for d in hidden_dims):
            raise ModelError(f"fc: hidden_dims must be positive, got {list(hidden_dims)}")
        D = int(np.prod(input_dim))
        self.dtype = np.dtype(dtype)
        self.reg = reg
        self.dropout = dropout
        self.normalization = normalization
        self.num_layers = len(hidden_dims) + 1
        self.dropout_rng = np.random.default_rng(seed + 1)  # used when loss() gets no rng
        rng = np.random.default_rng(seed)
        dims = [D, *hidden_dims, num_classes]
        self.params: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:], strict=True), start=1):
            self.params[f"W{i}"] = _init(rng, (fan_in, fan_out), fan_in, weight_scale, self.dtype)
            if not normalization or i == self.num_layers:  # batch norm's beta is the bias
                self.params[f"b{i}"] = np.zeros(fan_out, dtype=self.dtype)
            if normalization and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(fan_out, dtype=self.dtype)
                self.params[f"beta{i}"] = np.zeros(fan_out, dtype=self.dtype)
                self.buffers[f"running_mean{i}"] = np.zeros(fan_out, dtype=self.dtype)
                self.buffers[f"running_var{i}"] = np.ones(fan_out, dtype=self.dtype)

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None, rng: np.random.Generator | None = None
    ):
        """Scores (N, K) for X (N, ...) when y is None, else (loss, grads); rng draws dropout masks."""
        p = self.params
        train = y is not None
        rng = rng if rng is not None else self.dropout_rng
        h = X.astype(self.dtype, copy=False).reshape(X.shape[0], -1)  # (N, D)
        caches = []
        for i in range(1, self.num_layers):
            bias = p[f"b{i}"] if f"b{i}" in p else np.zeros(p[f"W{i}"].shape[1], self.dtype)
            h, affine_cache = affine_forward(h, p[f"W{i}"], bias)
            norm_cache = None
            if self.normalization:
                running = (self.buffers[f"running_mean{i}"], self.buffers[f"running_var{i}"])
                h, norm_cache = batchnorm_forward(
                    h, p[f"gamma{i}"], p[f"beta{i}"], running, train=train
                )
                if train:
                    self.buffers[f"running_mean{i}"], self.buffers[f"running_var{i}"] = (
                        norm_cache.running
                    )
            h, relu_cache = relu_forward(h)
            h, drop_cache = dropout_forward(h, self.dropout, train=train, rng=rng)
            caches.append((affine_cache, norm_cache, relu_cache, drop_cache))
        L = self.num_layers
        scores, last_cache = affine_forward(h, p[f"W{L}"], p[f"b{L}"])
        if not train:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads: dict[str, np.ndarray] = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        for i in range(L - 1, 0, -1):
            affine_cache, norm_cache, relu_cache, drop_cache = caches[i - 1]
            dh = relu_backward(dropout_backward(dh, drop_cache), relu_cache)
            if norm_cache is not None:
                dh, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dh, norm_cache)
            dh, grads[f"W{i}"], db = affine_backward(dh, affine_cache)
            if f"b{i}" in p:
                grads[f"b{i}"] = db
        loss += _l2(p, [f"W{i}" for i in range(1, L + 1)], self.reg, grads)
        return loss, grads


MODELS = {"three_layer_convnet": ThreeLayerConvNet, "fc": FullyConnectedNet}


def build_model(name: str, input_dim: tuple[int, int, int], num_classes: int, **options):
    """The scratch model called `name` for inputs (C, H, W) and `num_classes`, with its options."""
    if name not in MODELS:
        raise ModelError(f"scratch model {name!r} is unknown; expected one of {', '.join(MODELS)}")
    try:
        return MODELS[name](input_dim=tuple(input_dim), num_classes=num_classes, **options)
    except TypeError as error:
        raise ModelError(
            f"scratch model {name!r}: bad options {sorted(options)}: {error}"
        ) from None
