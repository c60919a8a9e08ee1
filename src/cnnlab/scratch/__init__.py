"""The NumPy engine: layers with forward and backward passes, gradient checks, a Solver, models.

    from cnnlab.scratch import Solver, SolverConfig, ThreeLayerConvNet
    model = ThreeLayerConvNet(num_filters=32, filter_size=7, hidden_dim=100, reg=1e-3)
    history = Solver(model, data, SolverConfig(learning_rate=1e-3, epochs=5)).train()

Layers are `*_forward(x, ...) -> (out, cache)` and `*_backward(dout, cache) -> grads` in
`layers`, `conv`, `pool`, `norm`, `losses` and `composite`; `gradient_check` and `checks`
compare them with centred differences. This package never imports torch; `experiment`, which
writes a scratch run into a normal run directory, goes through cnnlab's run, data and
evaluate packages (those load torch) and is not imported here.
"""

from cnnlab.scratch.gradient_check import model_gradient_errors, numeric_gradient, relative_error
from cnnlab.scratch.models import MODELS, FullyConnectedNet, ThreeLayerConvNet, build_model
from cnnlab.scratch.optim import UPDATE_RULES, adam, rmsprop, sgd, sgd_momentum
from cnnlab.scratch.solver import Solver, SolverConfig, SolverHistory

__all__ = [
    "MODELS",
    "UPDATE_RULES",
    "FullyConnectedNet",
    "Solver",
    "SolverConfig",
    "SolverHistory",
    "ThreeLayerConvNet",
    "adam",
    "build_model",
    "model_gradient_errors",
    "numeric_gradient",
    "relative_error",
    "rmsprop",
    "sgd",
    "sgd_momentum",
]
