"""A scratch run end to end: data through `cnnlab.data`, the NumPy Solver, a normal run directory.

The run is described by the usual `ExperimentConfig` with `model.name` = `scratch:<model>`
(`scratch:three_layer_convnet`, `scratch:fc`), so config.yaml, metrics.csv, iterations.csv,
train.log (ending with the test accuracy line), predictions.csv and metrics.json are what the
PyTorch engine writes (through the same `Recorder` and the same `evaluate` metrics), and
figures and reports read them unchanged. Weights are `.npz`:
`best.npz` (best validation accuracy: params, buffers, input normalisation, class names) and
`last.npz` (the Solver's state after the latest epoch).

Config keys the engine maps: optim.optimizer sgd (momentum > 0: SGD with momentum), adam or
rmsprop; optim.lr; optim.schedule constant, or step with step_size 1 (gamma = decay per
epoch); optim.weight_decay as the L2 strength `reg` (or model.options.reg); train.epochs,
batch_size, eval_batch_size, seed, threads (BLAS threads). Keys it cannot honour raise a
ConfigError naming them. This driver reads and writes through `cnnlab.runs`, `cnnlab.data`
and `cnnlab.evaluate`, whose packages load torch; the engine it drives never does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import platform
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import cnnlab
from cnnlab.config import DataConfig, ExperimentConfig, OptimConfig, TrainConfig
from cnnlab.data import Dataset
from cnnlab.data.configured import load_configured
from cnnlab.data.profile import channel_stats
from cnnlab.errors import ConfigError
from cnnlab.evaluate import EvalResult, evaluation, record_evaluation
from cnnlab.experiment.results import summary_metrics
from cnnlab.models.classifier import safe_std
from cnnlab.report import write_report
from cnnlab.runs import Recorder, new_run_dir
from cnnlab.runs.env import cpu_model, git_revision
from cnnlab.scratch.losses import softmax
from cnnlab.scratch.models import MODELS, build_model
from cnnlab.scratch.npz import save_arrays
from cnnlab.scratch.solver import (
    Solver,
    SolverConfig,
    SolverHistory,
    params_arrays,
)
from cnnlab.visualize import FigureInputs, write_figures

PREFIX = "scratch:"  # model.name of a scratch run
DEFAULT_VAL = 1000  # validation images drawn from train when data.val is not set
RULES = {"adam": "adam", "rmsprop": "rmsprop"}  # optim.optimizer -> update rule (sgd: below)


@dataclass(frozen=True)
class Normalize:
    """uint8 images (N, C, H, W) -> (x / 255 - mean) / std per channel, in the model's dtype."""

    mean: np.ndarray  # (C,)
    std: np.ndarray  # (C,)
    dtype: np.dtype = np.dtype(np.float32)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        scale = (1 / (255 * self.std)).astype(self.dtype).reshape(1, -1, 1, 1)
        shift = (self.mean / self.std).astype(self.dtype).reshape(1, -1, 1, 1)
        return images.astype(self.dtype) * scale - shift


@dataclass
class ScratchResult:
    """What a finished (or stopped) scratch run produced."""

    run_dir: Path
    status: str
    history: SolverHistory = field(repr=False)
    metrics: dict[str, float] = field(default_factory=dict)  # train/test accuracy, seconds
    config: ExperimentConfig | None = None


def _unsupported(config: ExperimentConfig) -> list[str]:
    """The config keys set away from their defaults that the scratch engine cannot honour."""
    optim_default, train_default = OptimConfig(), TrainConfig()
    keys = [f"optim.{k}" for k in ("warmup_epochs", "label_smoothing", "grad_clip", "nesterov")]
    keys += [
        f"train.{k}"
        for k in (
            "eval_every", "monitor", "patience", "channels_last", "compile", "watch_test",
            "tensorboard", "tracker", "ema",
        )
    ]  # fmt: skip
    bad = [
        key
        for key in keys
        if getattr(config.optim if key.startswith("optim") else config.train, key.split(".")[1])
        != getattr(optim_default if key.startswith("optim") else train_default, key.split(".")[1])
    ]
    if config.data.augment:
        bad.append("data.augment")
    bad += [f"data.{key}" for key in ("mixup", "cutmix") if getattr(config.data, key)]
    if config.model.tta_flip:
        bad.append("model.tta_flip")
    if config.train.device.split(":")[0] not in ("auto", "cpu"):
        bad.append("train.device")
    return bad


def solver_config(config: ExperimentConfig) -> SolverConfig:
    """The Solver settings an experiment config stands for, or a ConfigError naming the key."""
    optim = config.optim
    if optim.optimizer == "sgd":
        rule = "sgd_momentum" if optim.momentum > 0 else "sgd"
        options = {"momentum": optim.momentum} if optim.momentum > 0 else {}
    elif optim.optimizer in RULES:
        rule = RULES[optim.optimizer]
        options = {"beta1": optim.betas[0], "beta2": optim.betas[1]} if rule == "adam" else {}
    else:
        raise ConfigError(
            f"optim.optimizer: the scratch engine has sgd, adam and rmsprop, got {optim.optimizer!r}"
        )
    if optim.schedule == "constant":
        decay = 1.0
    elif optim.schedule == "step" and optim.step_size == 1:
        decay = optim.gamma
    else:
        raise ConfigError(
            f"optim.schedule: the scratch engine decays the learning rate once per epoch "
            f"(constant, or step with optim.step_size=1 and optim.gamma the decay), got "
            f"{optim.schedule!r} with step_size {optim.step_size}"
        )
    bad = _unsupported(config)
    if bad:
        raise ConfigError(
            f"the scratch engine does not support {', '.join(bad)}; leave them at their defaults"
        )
    return SolverConfig(
        update_rule=rule,
        learning_rate=optim.lr,
        optim_options=options,
        lr_decay=decay,
        batch_size=config.train.batch_size,
        epochs=config.train.epochs,
        eval_batch_size=config.train.eval_batch_size or SolverConfig.eval_batch_size,
        seed=config.train.seed,
    )


def model_options(config: ExperimentConfig) -> tuple[str, dict[str, Any]]:
    """(scratch model name, its options with reg and dtype resolved) from the config."""
    name = config.model.name
    if not name.startswith(PREFIX) or name[len(PREFIX) :] not in MODELS:
        raise ConfigError(
            f"model.name: a scratch run needs one of "
            f"{', '.join(PREFIX + m for m in MODELS)}, got {name!r}"
        )
    options = dict(config.model.options)
    weight_decay = config.optim.weight_decay
    if weight_decay and options.get("reg", weight_decay) != weight_decay:
        raise ConfigError(
            f"optim.weight_decay ({weight_decay}) and model.options.reg ({options['reg']}) are the "
            f"same L2 strength here; give one of them"
        )
    options.setdefault("reg", weight_decay)
    options.setdefault("dtype", "float32")
    options.setdefault("seed", config.train.seed)
    return name[len(PREFIX) :], options


def resolve(config: ExperimentConfig) -> ExperimentConfig:
    """The config as it will run: named, with a validation split (DEFAULT_VAL when unset), on the CPU."""
    data = (
        config.data
        if config.data.val is not None
        else dataclasses.replace(config.data, val=DEFAULT_VAL)
    )
    solver_config(config)  # every unsupported key is reported before any work
    model_options(config)
    return dataclasses.replace(
        config,
        name=config.run_name.replace(":", "-"),  # cifar10-scratch-three_layer_convnet
        data=data,
        train=dataclasses.replace(config.train, device="cpu"),
    )


@contextlib.contextmanager
def blas_threads(threads: int | None) -> Iterator[None]:
    """Limit the BLAS library to `threads` threads inside the block (None: leave it alone)."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits  # ships with scikit-learn

    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def environment(threads: int | None, dtype: str) -> dict[str, Any]:
    """What the run ran on, for env.json (NumPy in place of torch)."""
    return {
        "cnnlab": cnnlab.__version__,
        "engine": "scratch (NumPy)",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "blas_threads": threads,  # None: as many as the BLAS library chose
        "dtype": dtype,
        "device": "cpu",
        "command": sys.argv,
        "git_revision": git_revision(Path(cnnlab.__file__).resolve().parent),
    }


def _weights(model, normalize: Normalize, class_names) -> dict[str, np.ndarray]:
    """best.npz's entries: params, buffers, the input normalisation and the class names."""
    return {
        **params_arrays(model.params, model.buffers),
        "input.mean": normalize.mean,
        "input.std": normalize.std,
        "class_names": np.array(class_names, dtype=str),
    }


def _evaluate(
    solver: Solver, dataset: Dataset, config: ExperimentConfig
) -> tuple[dict[str, float], EvalResult | None]:
    """(final weights' train accuracy, the test evaluation) of the best parameters, recorded."""
    train = dataset.split("train")
    final = {"final_train_accuracy": solver.check(train.images, train.labels)["accuracy"]}
    final["final_train_images"] = len(train)
    test = dataset.splits.get("test")
    if test is None or len(test) == 0:
        return final, None
    probabilities = softmax(solver.scores(test.images))  # (N, K) float64
    result = evaluation(probabilities, test.labels, dataset.class_names, config.data.dataset)
    return final, result


def _in_memory(config: ExperimentConfig) -> DataConfig:
    """The data settings with the images in memory: the NumPy engine works on whole arrays."""
    if config.data.storage == "mmap":
        raise ConfigError(
            "data.storage mmap: the NumPy engine (cnnlab scratch) holds its images in memory; "
            "use data.storage memory or auto"
        )
    return dataclasses.replace(config.data, storage="memory")


def train(config: ExperimentConfig, *, quiet: bool = False, report: bool = True) -> ScratchResult:
    """Train a scratch model as `config` says into a new run directory under `config.out`;
    evaluate it, then (with `report`) draw its figures and write its report."""
    config = resolve(config)
    name, options = model_options(config)
    settings = solver_config(config)
    run = new_run_dir(Path(config.out), config.run_name)
    recorder = Recorder(run, config.train.epochs, quiet)
    run.write_config(config)
    recorder.started()
    run.write_env(environment(config.train.threads, str(options["dtype"])))
    with recorder.setting_up():
        dataset = load_configured(_in_memory(config), config.train.seed)
        train_split, val_split = dataset.split("train"), dataset.split("val")
        mean, std = channel_stats(train_split)
        normalize = Normalize(mean, safe_std(std), np.dtype(options["dtype"]))
        model = build_model(name, train_split.image_shape, dataset.num_classes, **options)
    run.log(
        f"run {run.path.name}: {config.model.name} on {config.data.dataset}, NumPy engine, {options['dtype']}"
    )
    recorder.data(dataset)
    solver: Solver

    def on_epoch(row: dict[str, Any], improved: bool) -> None:
        if improved:
            save_arrays(run.best_npz, _weights(model, normalize, dataset.class_names))
        recorder.epoch(row, improved, solver.history.epochs, solver.history.iterations)

    data = {
        "X_train": train_split.images, "y_train": train_split.labels,
        "X_val": val_split.images, "y_val": val_split.labels,
    }  # fmt: skip
    solver = Solver(
        model, data, settings, transform=normalize, on_epoch=on_epoch, checkpoint=run.last_npz
    )
    started = time.perf_counter()
    with blas_threads(config.train.threads):
        try:
            history = solver.train()
        except KeyboardInterrupt:
            recorder.interrupted(len(solver.history.epochs))
            raise
        seconds = time.perf_counter() - started
        if history.stopped == "diverged":
            raise recorder.diverged(history.iterations, len(history.epochs) + 1, config.optim.lr)
        recorder.trained(
            history.stopped, len(history.epochs), history.best_epoch, "val_accuracy", seconds
        )
        final, result = _evaluate(solver, dataset, config)
    final["train_seconds"] = seconds
    run.write_final(final)
    run.log(
        f"train accuracy (evaluated weights, {final['final_train_images']} training images): "
        f"{final['final_train_accuracy']:.4f}"
    )
    if result is not None:
        record_evaluation(run, result)
    if report:
        inputs = FigureInputs(
            epochs=history.epochs,
            iterations=history.iterations,
            class_names=tuple(dataset.class_names),
            test=dataset.splits.get("test"),
            predictions=result.predictions if result else None,
            metrics=result.metrics if result else None,
            scratch_weights=run.best_npz,
            model_name=config.model.name,
        )
        write_figures(run.path, inputs)
        write_report(run.path, dataset=dataset)
    metrics = summary_metrics(final, result.metrics if result else None)
    return ScratchResult(run.path, history.stopped, history, metrics, config)
