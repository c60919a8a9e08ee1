"""Update rules: each `(w, dw, config) -> (next_w, config)`, pure (the config is copied, not changed).

`config` holds the hyperparameters (learning_rate always) and the rule's state (velocity,
moment estimates); missing entries take the defaults below, and state arrays start at zero.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cnnlab.errors import ConfigError

Config = dict  # hyperparameters (floats) and state (arrays, step count)


def _with_defaults(config: Config | None, **defaults) -> Config:
    merged = {"learning_rate": 1e-2, **defaults, **(config or {})}
    if merged["learning_rate"] <= 0:
        raise ConfigError(
            f"learning_rate: expected a positive number, got {merged['learning_rate']}"
        )
    return merged


def sgd(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """w - learning_rate * dw."""
    config = _with_defaults(config)
    return w - w.dtype.type(config["learning_rate"]) * dw, config


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """v = momentum * v - learning_rate * dw; w + v (momentum 0.9)."""
    config = _with_defaults(config, momentum=0.9)
    v = config.get("velocity")
    v = np.zeros_like(w) if v is None else v
    v = w.dtype.type(config["momentum"]) * v - w.dtype.type(config["learning_rate"]) * dw
    return w + v, {**config, "velocity": v}


def rmsprop(
    w: np.ndarray, dw: np.ndarray, config: Config | None = None
) -> tuple[np.ndarray, Config]:
    """cache = decay * cache + (1 - decay) * dw**2; w - learning_rate * dw / (sqrt(cache) + eps)."""
    config = _with_defaults(config, decay_rate=0.99, epsilon=1e-8)
    cache = config.get("cache")
    cache = np.zeros_like(w) if cache is None else cache
    t = w.dtype.type
    cache = t(config["decay_rate"]) * cache + t(1 - config["decay_rate"]) * dw * dw
    step = t(config["learning_rate"]) * dw / (np.sqrt(cache) + t(config["epsilon"]))
    return w - step, {**config, "cache": cache}


def adam(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> tuple[np.ndarray, Config]:
    """Adam with bias-corrected first and second moments (beta1 0.9, beta2 0.999, eps 1e-8)."""
    config = _with_defaults(config, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8)
    t = w.dtype.type
    step = int(config.get("t", 0)) + 1
    m = config.get("m")
    v = config.get("v")
    m = np.zeros_like(w) if m is None else m
    v = np.zeros_like(w) if v is None else v
    beta1, beta2 = config["beta1"], config["beta2"]
    m = t(beta1) * m + t(1 - beta1) * dw
    v = t(beta2) * v + t(1 - beta2) * dw * dw
    m_hat = m / t(1 - beta1**step)
    v_hat = v / t(1 - beta2**step)
    w_next = w - t(config["learning_rate"]) * m_hat / (np.sqrt(v_hat) + t(config["epsilon"]))
    return w_next, {**config, "m": m, "v": v, "t": step}


UPDATE_RULES: dict[str, Callable] = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "rmsprop": rmsprop,
    "adam": adam,
}


def update_rule(name: str) -> Callable:
    """The update rule called `name`, or a ConfigError listing the rules there are."""
    if name not in UPDATE_RULES:
        raise ConfigError(
            f"update rule {name!r} is unknown; expected one of {', '.join(UPDATE_RULES)}"
        )
    return UPDATE_RULES[name]
