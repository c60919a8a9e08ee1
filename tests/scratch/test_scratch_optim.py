"""Update rules: the formulas, purity, and agreement with torch's optimizers over several steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.scratch import optim

TORCH = {
    "sgd": lambda p, lr: torch.optim.SGD([p], lr=lr),
    "sgd_momentum": lambda p, lr: torch.optim.SGD([p], lr=lr, momentum=0.9),
    "rmsprop": lambda p, lr: torch.optim.RMSprop([p], lr=lr, alpha=0.99, eps=1e-8),
    "adam": lambda p, lr: torch.optim.Adam([p], lr=lr, betas=(0.9, 0.999), eps=1e-8),
}


@pytest.mark.parametrize("name", list(optim.UPDATE_RULES))
def test_rule_matches_torch_over_five_steps(name):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(5)]
    param = torch.tensor(w, requires_grad=True)
    optimizer = TORCH[name](param, 0.01)
    config = {"learning_rate": 0.01}
    for g in grads:
        w, config = optim.update_rule(name)(w, g, config)
        param.grad = torch.from_numpy(g)
        optimizer.step()
    np.testing.assert_allclose(w, param.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_sgd_and_momentum_by_hand():
    w, dw = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    step, _ = optim.sgd(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(step, [0.95, -2.025])
    w1, config = optim.sgd_momentum(w, dw, {"learning_rate": 0.1, "momentum": 0.5})
    w2, _ = optim.sgd_momentum(w1, dw, config)
    np.testing.assert_allclose(w2, w - 0.1 * dw - (0.5 * 0.1 * dw + 0.1 * dw))


def test_rules_are_pure_and_keep_float32():
    w, dw = np.ones(3, np.float32), np.full(3, 0.5, np.float32)
    config = {"learning_rate": 1e-2}
    for rule in optim.UPDATE_RULES.values():
        w_next, state = rule(w, dw, config)
        assert config == {"learning_rate": 1e-2}  # the caller's config is not changed
        np.testing.assert_array_equal(w, np.ones(3, np.float32))
        assert w_next.dtype == np.float32 and state is not config
    _, state = optim.adam(w, dw, config)
    assert state["t"] == 1 and state["m"].dtype == np.float32


def test_unknown_rule_and_bad_rate_are_config_errors():
    with pytest.raises(
        ConfigError,
        match="update rule 'adamw' is unknown; expected one of sgd, sgd_momentum, rmsprop, adam",
    ):
        optim.update_rule("adamw")
    with pytest.raises(ConfigError, match="learning_rate: expected a positive number, got -1"):
        optim.sgd(np.ones(2), np.ones(2), {"learning_rate": -1})
