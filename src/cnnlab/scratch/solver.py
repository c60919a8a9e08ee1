"""The Solver: minibatch training of a scratch model with an update rule, epochs and lr decay.

    solver = Solver(model, {"X_train": ..., "y_train": ..., "X_val": ..., "y_val": ...},
                    SolverConfig(update_rule="adam", learning_rate=1e-3, epochs=5))
    history = solver.train()  # per-iteration loss, per-epoch train/val metrics, best epoch

Each epoch visits a fresh random permutation of the training set in batches (the remainder
that does not fill a batch waits for a later epoch), then measures loss, accuracy and macro
F1 on a fixed sample of the training set and on the validation set. The parameters of the
best validation accuracy are kept and put back into the model when training ends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.errors import ConfigError
from cnnlab.scratch.losses import softmax_loss
from cnnlab.scratch.npz import save_arrays
from cnnlab.scratch.optim import update_rule

EpochHook = Callable[[dict[str, Any], bool], str | None]  # (row, improved) -> reason to stop


@dataclass(frozen=True)
class SolverConfig:
    """How to train: update rule and its hyperparameters, batches, epochs, lr decay, checks."""

    update_rule: str = "adam"  # sgd, sgd_momentum, rmsprop, adam
    learning_rate: float = 1e-3  # for batches of `batch_size`
    # hyperparameters of the rule beyond the learning rate: momentum, beta1, decay_rate...
    optim_options: Mapping[str, float] = field(default_factory=dict)
    lr_decay: float = 1.0  # the learning rate is multiplied by this after every epoch
    batch_size: int = 100
    epochs: int = 10
    train_check_samples: int | None = 1000  # training images measured each epoch; None = all
    eval_batch_size: int = 500  # forward passes only, so larger batches are fine
    seed: int = 0  # batch order, the training check sample and dropout masks
    print_every: int = 0  # log the loss every this many iterations; 0 = never

    def __post_init__(self) -> None:
        update_rule(self.update_rule)  # a ConfigError naming the rules there are
        checks = {
            "learning_rate": self.learning_rate > 0,
            "lr_decay": 0 < self.lr_decay <= 1,
            "batch_size": self.batch_size >= 1,
            "epochs": self.epochs >= 1,
            "eval_batch_size": self.eval_batch_size >= 1,
            "train_check_samples": self.train_check_samples is None
            or self.train_check_samples >= 1,
            "print_every": self.print_every >= 0,
        }
        for key, ok in checks.items():
            if not ok:
                raise ConfigError(
                    f"solver {key}: got {getattr(self, key)!r}; expected a positive value "
                    f"(lr_decay in (0, 1], print_every >= 0)"
                )


@dataclass
class SolverHistory:
    """What training recorded: one row per iteration and per epoch, the best epoch and how it ended."""

    iterations: list[dict[str, Any]] = field(default_factory=list)  # iteration, epoch, loss, lr
    epochs: list[dict[str, Any]] = field(default_factory=list)  # train_/val_ loss, accuracy, f1...
    best_epoch: int = 0
    best_val_accuracy: float = -1.0
    stopped: str = "finished"  # finished, diverged, or the reason an `on_epoch` hook gave

    @property
    def loss_history(self) -> list[float]:
        return [row["loss"] for row in self.iterations]

    @property
    def train_acc_history(self) -> list[float]:
        return [row["train_accuracy"] for row in self.epochs]

    @property
    def val_acc_history(self) -> list[float]:
        return [row["val_accuracy"] for row in self.epochs]


def classification_metrics(scores: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Mean softmax loss, accuracy and macro F1 of scores (N, K) against labels y (N,).

    Classes absent from both the labels and the predictions are left out of the F1 mean.
    """
    K = scores.shape[1]
    loss, _ = softmax_loss(scores.astype(np.float64), y)
    predicted = scores.argmax(axis=1)
    confusion = np.bincount(y * K + predicted, minlength=K * K).reshape(K, K)  # rows true
    hits = np.diag(confusion).astype(np.float64)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    present = denominator > 0
    f1 = float(np.mean(2 * hits[present] / denominator[present])) if present.any() else 0.0
    return {"loss": loss, "accuracy": float(hits.sum() / max(len(y), 1)), "f1": f1}


def _identity(X: np.ndarray) -> np.ndarray:
    return X


class Solver:
    """Trains `model` on `data` (X_train, y_train, X_val, y_val) as `config` says; see the module doc.

    `transform` maps a batch of stored inputs to the model's input (e.g. uint8 images to
    normalised floats), so the data set stays compact. `on_epoch(row, improved)` sees every
    finished epoch and may stop training by returning a reason. `checkpoint`, when given, is
    rewritten (atomically, as .npz) after every epoch.
    """

    def __init__(
        self,
        model,
        data: Mapping[str, np.ndarray],
        config: SolverConfig = SolverConfig(),
        *,
        transform: Callable[[np.ndarray], np.ndarray] = _identity,
        on_epoch: EpochHook | None = None,
        log: Callable[[str], None] | None = None,
        checkpoint: Path | None = None,
    ) -> None:
        missing = [key for key in ("X_train", "y_train", "X_val", "y_val") if key not in data]
        if missing:
            raise ConfigError(
                f"solver data lacks {missing}; expected X_train, y_train, X_val, y_val"
            )
        for split in ("train", "val"):
            if len(data[f"X_{split}"]) != len(data[f"y_{split}"]) or len(data[f"X_{split}"]) == 0:
                raise ConfigError(
                    f"solver data: X_{split} and y_{split} must be non-empty and of equal length, "
                    f"got {len(data[f'X_{split}'])} and {len(data[f'y_{split}'])}"
                )
        self.model = model
        self.data = data
        self.config = config
        self.transform = transform
        self.on_epoch = on_epoch
        self.log = log
        self.checkpoint = checkpoint
        self.rng = np.random.default_rng(config.seed)
        self.rule = update_rule(config.update_rule)
        base = {"learning_rate": config.learning_rate, **config.optim_options}
        self.optim_configs = {name: dict(base) for name in model.params}
        self.best_params = {name: value.copy() for name, value in model.params.items()}
        self.best_buffers = {name: value.copy() for name, value in model.buffers.items()}
        self.history = SolverHistory()

    @property
    def learning_rate(self) -> float:
        return self.config.learning_rate * self.config.lr_decay ** len(self.history.epochs)

    def step(self, X_batch: np.ndarray, y_batch: np.ndarray) -> float:
        """One update of every parameter from one batch; returns the batch loss."""
        loss, grads = self.model.loss(self.transform(X_batch), y_batch, rng=self.rng)
        for name, value in self.model.params.items():
            self.model.params[name], self.optim_configs[name] = self.rule(
                value, grads[name], self.optim_configs[name]
            )
        return float(loss)

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Class scores (N, K) of the model in test mode, in batches of eval_batch_size."""
        size = self.config.eval_batch_size
        parts = [self.model.loss(self.transform(X[i : i + size])) for i in range(0, len(X), size)]
        return np.concatenate(parts).astype(np.float64)

    def check(self, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Loss, accuracy and macro F1 of the model on (X, y)."""
        return classification_metrics(self.scores(X), y)

    def train(self) -> SolverHistory:
        """Run every epoch (or until a hook stops it or the loss diverges); returns the history."""
        config, history = self.config, self.history
        X, y = self.data["X_train"], self.data["y_train"]
        N = len(X)
        per_epoch = max(N // config.batch_size, 1)
        check_size = N if config.train_check_samples is None else min(N, config.train_check_samples)
        check_rows = np.sort(self.rng.choice(N, size=check_size, replace=False))
        for epoch in range(len(history.epochs) + 1, config.epochs + 1):
            started = time.perf_counter()
            lr = self.learning_rate
            order = self.rng.permutation(N)
            for b in range(per_epoch):
                rows = np.sort(order[b * config.batch_size : (b + 1) * config.batch_size])
                loss = self.step(X[rows], y[rows])
                iteration = len(history.iterations) + 1
                history.iterations.append(
                    {"iteration": iteration, "epoch": epoch, "loss": loss, "lr": lr}
                )
                if not math.isfinite(loss):
                    history.stopped = "diverged"
                    return history
                if self.log and config.print_every and iteration % config.print_every == 0:
                    self.log(f"iteration {iteration}/{per_epoch * config.epochs}  loss {loss:.4f}")
            train = self.check(X[check_rows], y[check_rows])
            val = self.check(self.data["X_val"], self.data["y_val"])
            row = {"epoch": epoch, **{f"train_{k}": v for k, v in train.items()}}
            row.update({f"val_{k}": v for k, v in val.items()})
            row.update(lr=lr, epoch_seconds=time.perf_counter() - started)
            history.epochs.append(row)
            for name in self.optim_configs:  # decay for the next epoch
                self.optim_configs[name]["learning_rate"] = self.learning_rate
            improved = val["accuracy"] > history.best_val_accuracy
            if improved:
                history.best_epoch, history.best_val_accuracy = epoch, val["accuracy"]
                self.best_params = {n: v.copy() for n, v in self.model.params.items()}
                self.best_buffers = {n: v.copy() for n, v in self.model.buffers.items()}
            if self.checkpoint is not None:
                save_arrays(self.checkpoint, self.state_arrays())
            reason = self.on_epoch(row, improved) if self.on_epoch else None
            if reason:
                history.stopped = reason
                break
        self.model.params.update(self.best_params)
        self.model.buffers.update(self.best_buffers)
        return history

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The current training state as flat arrays for an .npz: params, buffers, update-rule state."""
        arrays = {
            "epoch": np.array(len(self.history.epochs)),
            **params_arrays(self.model.params, self.model.buffers),
        }
        for name, state in self.optim_configs.items():
            arrays.update(
                {f"optim.{name}.{key}": np.asarray(value) for key, value in state.items()}
            )
        return arrays


def params_arrays(
    params: Mapping[str, np.ndarray], buffers: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Parameters and buffers as flat .npz entries (`params.W1`, `buffers.running_mean1`...)."""
    return {
        **{f"params.{n}": v for n, v in params.items()},
        **{f"buffers.{n}": v for n, v in buffers.items()},
    }
