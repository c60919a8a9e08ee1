"""The loop: every optimizer overfits a few batches; schedules; divergence is detected."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.config import OptimConfig, TrainConfig
from cnnlab.data.arrays import Split
from cnnlab.data.loader import BatchLoader
from cnnlab.errors import ConfigError
from cnnlab.training import (
    OPTIMIZERS,
    SCHEDULES,
    History,
    build_optimizer,
    build_schedule,
    check_optim,
    fit,
    lr_factor,
)

LEARNING_RATES = {
    "sgd": 0.1,
    "adam": 1e-2,
    "adamw": 1e-2,
    "adagrad": 0.1,
    "adadelta": 1.0,
    "rmsprop": 1e-3,
}


def tiny_split(n: int = 32, classes: int = 4, seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    return Split(rng.integers(0, 256, (n, 1, 8, 8), dtype=np.uint8), rng.integers(0, classes, n))


def tiny_model(classes: int = 4) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, classes))


def run_fit(optim_config: OptimConfig, train_config: TrainConfig, *, validate: bool = False):
    """Fit the tiny model on the tiny split; returns (model, history)."""
    model = tiny_model()
    device = torch.device("cpu")
    loader = BatchLoader(tiny_split(), batch_size=train_config.batch_size, shuffle=True)
    val = BatchLoader(tiny_split(seed=1), batch_size=32, shuffle=False) if validate else None
    optimizer = build_optimizer(model.parameters(), optim_config, device)
    schedule = build_schedule(optimizer, optim_config, len(loader), train_config.epochs)
    history = fit(
        model,
        optimizer,
        schedule,
        loader,
        val,
        num_classes=4,
        train_config=train_config,
        optim_config=optim_config,
        device=device,
        history=History(),
    )
    return model, history


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_each_optimizer_overfits_a_few_batches(optimizer):
    optim_config = OptimConfig(optimizer=optimizer, lr=LEARNING_RATES[optimizer])
    train_config = TrainConfig(epochs=60, batch_size=8, monitor="train_accuracy")
    model, history = run_fit(optim_config, train_config)
    assert history.stopped == "finished"
    evaluation = BatchLoader(tiny_split(), batch_size=32, shuffle=False)
    images, labels = next(iter(evaluation))
    with torch.no_grad():
        assert (model(images).argmax(1) == labels).float().mean().item() == 1.0
    assert len(history.epochs) == 60 and len(history.iterations) == 60 * 4
    assert history.monitor == "train_accuracy" and history.best_value == 1.0


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_schedules_start_peak_and_end_where_documented(schedule):
    config = OptimConfig(
        schedule=schedule, warmup_epochs=1, final_lr_fraction=0.1, step_size=2, gamma=0.5
    )
    factors = [lr_factor(step, 100, 10, config) for step in range(100)]
    assert max(factors) <= 1.0 + 1e-12
    if schedule != "onecycle":
        assert factors[0] == pytest.approx(0.01)  # linear warm-up from lr/100
        assert factors[10] == pytest.approx(1.0)
    expected_last = {"constant": 1.0, "step": 0.5**4, "cosine": 0.1, "linear": 0.1, "onecycle": 0.1}
    expected_last["plateau"] = 1.0  # its cuts come from the epochs' metrics, not the step
    assert factors[-1] == pytest.approx(expected_last[schedule], abs=0.01)


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("optimizer", "adamm", "sgd, adam, adamw, adagrad, adadelta, rmsprop"),
        ("schedule", "cosin", "constant, step, cosine, onecycle, linear, plateau"),
    ],
)
def test_unknown_optimizer_or_schedule_is_refused_naming_the_key_and_the_table(key, value, allowed):
    config = OptimConfig(**{key: value})  # the config, a layer below training, takes any name
    message = rf"optim\.{key}: expected one of {allowed}, got '{value}'"
    with pytest.raises(ConfigError, match=message):
        check_optim(config)
    model = tiny_model()
    with pytest.raises(ConfigError, match=message):
        build_optimizer(model.parameters(), config, torch.device("cpu"))
    with pytest.raises(ConfigError, match=message):
        build_schedule(torch.optim.SGD(model.parameters(), lr=0.1), config, 4, epochs=2)


def test_nan_loss_stops_the_loop_as_diverged():
    optim_config = OptimConfig(optimizer="sgd", lr=1e6, momentum=0.0)
    train_config = TrainConfig(epochs=5, batch_size=8)
    _, history = run_fit(optim_config, train_config)
    assert history.stopped == "diverged"
    assert len(history.epochs) < 5


def test_early_stopping_after_patience_epochs():
    optim_config = OptimConfig(optimizer="sgd", lr=1e-9, momentum=0.0)  # nothing improves
    train_config = TrainConfig(epochs=20, batch_size=8, monitor="val_accuracy", patience=2)
    _, history = run_fit(optim_config, train_config, validate=True)
    assert history.stopped == "early_stopped"
    assert len(history.epochs) == 3 and history.best_epoch == 1


def test_eval_every_records_validation_per_iteration():
    optim_config = OptimConfig()
    train_config = TrainConfig(epochs=2, batch_size=8, eval_every=2)
    _, history = run_fit(optim_config, train_config, validate=True)
    with_val = [row["iteration"] for row in history.iterations if "val_accuracy" in row]
    assert with_val == [2, 4, 6, 8]
