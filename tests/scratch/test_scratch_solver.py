"""Models and the Solver: initial loss, whole-model gradient checks, overfitting, history, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.errors import ConfigError, ModelError
from cnnlab.scratch.checks import MODEL_TOLERANCE, model_checks
from cnnlab.scratch.models import FullyConnectedNet, ThreeLayerConvNet, build_model
from cnnlab.scratch.npz import load_arrays
from cnnlab.scratch.solver import Solver, SolverConfig, classification_metrics


def tiny_data(n: int = 100, seed: int = 0, shape=(3, 8, 8), classes: int = 10) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "X_train": rng.standard_normal((n, *shape)).astype(np.float32),
        "y_train": rng.integers(0, classes, n),
        "X_val": rng.standard_normal((20, *shape)).astype(np.float32),
        "y_val": rng.integers(0, classes, 20),
    }


@pytest.mark.parametrize("check", model_checks(seed=0), ids=lambda c: f"{c.layer[:17]}-{c.wrt}")
def test_model_gradients_match_centred_differences(check):
    assert check.error < MODEL_TOLERANCE


@pytest.mark.parametrize("model", ["three_layer_convnet", "fc"])
def test_untrained_net_loss_is_about_ln_10(model):
    data = tiny_data(n=200)
    net = build_model(model, (3, 8, 8), 10, weight_scale=1e-3, dtype="float64")
    loss, grads = net.loss(data["X_train"], data["y_train"])
    assert loss == pytest.approx(np.log(10), abs=0.01)
    assert set(grads) == set(net.params)
    scores = net.loss(data["X_train"])
    assert scores.shape == (200, 10) and scores.dtype == np.float64


@pytest.mark.parametrize(
    "make",
    [
        lambda: ThreeLayerConvNet(
            (3, 8, 8), num_filters=8, filter_size=3, hidden_dim=50, weight_scale=None
        ),
        lambda: FullyConnectedNet(
            (50, 50), 3 * 8 * 8, weight_scale=5e-2, normalization="batchnorm"
        ),
    ],
    ids=["convnet", "fc-batchnorm"],
)
def test_solver_overfits_100_samples(make):
    config = SolverConfig(learning_rate=5e-3, batch_size=25, epochs=15, seed=1)
    history = Solver(make(), tiny_data(), config).train()
    assert history.train_acc_history[-1] == 1.0
    assert history.loss_history[-1] < 0.25 * history.loss_history[0]
    assert len(history.iterations) == 15 * 4 and history.iterations[-1]["epoch"] == 15


def test_solver_history_decay_best_params_and_checkpoint(tmp_path):
    data = tiny_data(n=60)
    model = ThreeLayerConvNet(
        (3, 8, 8), num_filters=4, filter_size=3, hidden_dim=20, weight_scale=1e-2
    )
    seen = []
    config = SolverConfig(
        learning_rate=1e-2, lr_decay=0.5, batch_size=20, epochs=3, train_check_samples=30
    )
    solver = Solver(
        model, data, config, on_epoch=lambda row, improved: seen.append((row["epoch"], improved)),
        checkpoint=tmp_path / "last.npz",
    )  # fmt: skip
    history = solver.train()
    assert [row["lr"] for row in history.epochs] == pytest.approx([1e-2, 5e-3, 2.5e-3])
    assert {row["lr"] for row in history.iterations if row["epoch"] == 2} == {5e-3}
    assert [epoch for epoch, _ in seen] == [1, 2, 3] and seen[0][1]  # the first epoch improves
    assert history.best_val_accuracy == max(history.val_acc_history)
    assert history.best_epoch == 1 + history.val_acc_history.index(history.best_val_accuracy)
    for name, value in solver.best_params.items():  # the best parameters are put back
        np.testing.assert_array_equal(model.params[name], value)
    saved = load_arrays(tmp_path / "last.npz")
    assert int(saved["epoch"]) == 3
    assert saved["params.W1"].shape == (4, 3, 3, 3)
    assert saved["optim.W1.t"] == 9  # three batches in each of three epochs
    for key in ("train_loss", "train_accuracy", "train_f1", "val_loss", "val_accuracy", "val_f1"):
        assert 0 <= history.epochs[-1][key] < 10


def test_solver_is_reproducible_and_a_hook_can_stop_it():
    def run(seed):
        model = FullyConnectedNet((20,), 3 * 8 * 8, dropout=0.3, seed=0)
        solver = Solver(
            model, tiny_data(), SolverConfig(batch_size=10, epochs=3, seed=seed),
            on_epoch=lambda row, improved: "pruned" if row["epoch"] == 2 else None,
        )  # fmt: skip
        return solver.train()

    first, again, other = run(5), run(5), run(6)
    assert first.stopped == "pruned" and len(first.epochs) == 2
    assert first.loss_history == again.loss_history
    assert first.loss_history != other.loss_history


def test_solver_stops_when_the_loss_diverges():
    model = FullyConnectedNet((20,), 3 * 8 * 8, weight_scale=1.0, seed=0)
    config = SolverConfig(update_rule="sgd", learning_rate=1e30)
    with np.errstate(all="ignore"):  # the overflow is the point
        history = Solver(model, tiny_data(), config).train()
    assert history.stopped == "diverged"
    assert not np.isfinite(history.iterations[-1]["loss"])


def test_classification_metrics():
    scores = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0], [0.0, 2.0]])
    metrics = classification_metrics(scores, np.array([0, 1, 1, 1]))
    assert metrics["accuracy"] == 0.75
    assert metrics["f1"] == pytest.approx((2 / 3 + 0.8) / 2)  # per class: 2*1/(2+1), 2*2/(3+2)


def test_bad_settings_name_the_key():
    with pytest.raises(ConfigError, match="solver lr_decay: got 1.5"):
        SolverConfig(lr_decay=1.5)
    with pytest.raises(ConfigError, match="update rule 'lbfgs' is unknown"):
        SolverConfig(update_rule="lbfgs")
    with pytest.raises(ConfigError, match=r"solver data lacks \['X_val', 'y_val'\]"):
        Solver(FullyConnectedNet(), {"X_train": np.zeros((2, 3)), "y_train": np.zeros(2, int)})
    with pytest.raises(
        ModelError,
        match="scratch model 'resnet' is unknown; expected one of three_layer_convnet, fc",
    ):
        build_model("resnet", (3, 8, 8), 10)
    with pytest.raises(ModelError, match="scratch model 'fc': bad options"):
        build_model("fc", (3, 8, 8), 10, filters=3)
    with pytest.raises(ModelError, match="three_layer_convnet: expected an odd filter_size"):
        ThreeLayerConvNet(filter_size=4)
