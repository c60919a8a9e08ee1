"""The training loop: a plain function over epochs and batches that returns a history.

Persistence is the caller's: two hooks receive per-iteration rows and each finished epoch
(with a function that builds the checkpoint state), so the loop never touches the disk.

When `stop()` turns true (Ctrl-C, SIGTERM) the loop ends at the next batch boundary, "interrupted",
with the epoch's progress in `history.partial_epoch` (batches done, running metrics, RNG state).
A resume replays the epoch's batches (same order and augmentation, from (seed, epoch)), skips
those done and goes on: it equals an uninterrupted run exactly, and a long epoch's work is kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cnnlab.config import OptimConfig, TrainConfig
from cnnlab.errors import TrainingError
from cnnlab.models.classifier import predict_logits
from cnnlab.training import distributed
from cnnlab.training.device import autocast, autocast_dtype
from cnnlab.training.distributed import SINGLE, Topology, sum_across
from cnnlab.training.ema import WeightAverage
from cnnlab.training.metrics import LossBuffer, RunningConfusion
from cnnlab.training.plateau import PlateauLR
from cnnlab.training.progress import EpochBar, EpochLines, epoch_progress

FLUSH_EVERY = 50  # iterations between moving losses off the device (and divergence checks)
EPOCH_SEED_STRIDE = 100_003  # global RNG seed of epoch e: seed * stride + e (dropout masks)
RANK_SEED_STRIDE = 1_000_003  # added per rank under torchrun, so ranks draw different masks
LOWER_IS_BETTER = ("val_loss", "train_loss")
# A cross-entropy above this has exploded even if still finite (a sane net's stays below ~100).
DIVERGED_LOSS = 1e8


def is_diverged(loss: float) -> bool:
    """True for a NaN, infinite or exploded loss."""
    return not math.isfinite(loss) or loss > DIVERGED_LOSS


@dataclass
class History:
    """Everything the loop measured, and how it ended; a plain, checkpointable record."""

    epochs: list[dict[str, Any]] = field(default_factory=list)
    iterations: list[dict[str, Any]] = field(default_factory=list)
    monitor: str = "val_accuracy"
    best_value: float | None = None
    best_epoch: int | None = None
    epochs_without_improvement: int = 0
    stopped: str = "running"  # finished, early_stopped, diverged, interrupted
    # Set when stopped mid-epoch: {epoch, batch, counts, loss_sum, samples, torch_rng, seconds}
    partial_epoch: dict[str, Any] | None = None

    def to_state(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> History:
        return cls(**state)


@dataclass(frozen=True)
class FitHooks:
    """Where the loop reports: new iteration rows, and each finished epoch."""

    on_iterations: Callable[[list[dict[str, Any]]], None] | None = None
    # (epoch row, improved on the monitor, a function returning the checkpoint state)
    # It may return a reason to stop now (e.g. "pruned"), which becomes `history.stopped`.
    on_epoch: Callable[[dict[str, Any], bool, Callable[[], dict[str, Any]]], str | None] | None = (
        None
    )


def effective_monitor(monitor: str, has_validation: bool) -> str:
    """The monitored metric, falling back to its training counterpart without a validation split."""
    if monitor.startswith("val_") and not has_validation:
        return "train_" + monitor[len("val_") :]
    return monitor


@torch.inference_mode()
def evaluate_batches(
    model: nn.Module,
    batches,
    num_classes: int,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    criterion: nn.Module,
    tta_flip: bool = False,
) -> dict[str, float]:
    """Loss, accuracy and macro F1 of `model` over `batches`, in eval mode (with `tta_flip`,
    of the logits averaged over each image and its mirror, as evaluation does)."""
    was_training = model.training
    model.eval()
    running = RunningConfusion(num_classes, device)
    for images, labels in batches:
        with autocast(device, amp_dtype):
            logits = predict_logits(model, images, tta_flip)
        loss = criterion(logits.float(), labels)
        running.update(logits, labels, loss * labels.shape[0])
    model.train(was_training)
    return running.compute()


@dataclass(frozen=True)
class StepContext:
    """What every training step needs, fixed for the whole fit."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    criterion: nn.Module
    device: torch.device
    amp_dtype: torch.dtype | None
    grad_clip: float | None
    topology: Topology = SINGLE
    train_module: nn.Module | None = None  # `model` wrapped in DDP and/or torch.compile
    tta_flip: bool = False  # validation averages each image with its mirror
    ema: WeightAverage | None = None  # the averaged weights, which validation then uses

    @property
    def evaluated(self) -> nn.Module:
        """The weights validation measures: the moving average when there is one."""
        return self.model if self.ema is None else self.ema.module


def _reduced(running: RunningConfusion, topology: Topology) -> dict[str, float]:
    """The epoch's training metrics over every rank's batches (this rank's alone when single)."""
    if topology.enabled:
        sum_across(topology, running.counts)
        sum_across(topology, running.loss_sum)
        samples = sum_across(topology, torch.tensor([running.samples]))
        running.samples = int(samples.item())
    return running.compute()


def _any_rank(topology: Topology, flag: bool) -> bool:
    """True when `flag` is true on any rank, so all ranks stop at the same batch (a signal
    may reach one process only). Under torchrun a stopped epoch's saved running metrics are
    rank 0's; the weights and the batch position are exact."""
    if not topology.enabled:
        return flag
    return int(sum_across(topology, torch.tensor([int(flag)])).item()) > 0


def _all_finite(topology: Topology, finite: bool) -> bool:
    """True when no rank saw a diverged loss (every rank must stop at the same batch)."""
    if not topology.enabled:
        return finite
    flags = sum_across(topology, torch.tensor([0 if finite else 1]))
    return int(flags.item()) == 0


def train_step(context: StepContext, images: torch.Tensor, labels: torch.Tensor):
    """One forward/backward/update; returns (logits, loss), both still on the device."""
    network = context.model if context.train_module is None else context.train_module
    with autocast(context.device, context.amp_dtype):
        logits = network(images)
    loss = context.criterion(logits.float(), labels)
    context.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if context.grad_clip is not None:
        nn.utils.clip_grad_norm_(context.model.parameters(), context.grad_clip)
    context.optimizer.step()
    if context.ema is not None:
        context.ema.update(context.model)
    context.scheduler.step()
    return logits, loss


def train_epoch(
    context: StepContext,
    train_loader,
    val_loader,
    *,
    epoch: int,
    num_classes: int,
    train_config: TrainConfig,
    history: History,
    hooks: FitHooks,
    bar: EpochBar | EpochLines | None,
    partial: dict[str, Any] | None = None,
    stop: Callable[[], bool] | None = None,
) -> tuple[dict[str, float], str]:
    """One epoch, or the rest of `partial`; returns (train metrics, "done" | "diverged" |
    "interrupted"), the last with `history.partial_epoch` set. Rows go into `history`."""
    context.model.train()
    running = RunningConfusion(num_classes, context.device)
    done = 0  # batches of this epoch trained so far
    if partial is not None:
        running.counts.copy_(partial["counts"])
        running.loss_sum.copy_(partial["loss_sum"])
        running.samples = partial["samples"]
        done = partial["batch"]
    batches = iter(train_loader)
    for _ in range(done):  # drawn again (same order, same augmentation draws), not trained
        next(batches)
    if bar is not None:
        bar.begin(done, running)
    losses = LossBuffer()
    iteration = history.iterations[-1]["iteration"] if history.iterations else 0
    eval_criterion = nn.CrossEntropyLoss()

    def record() -> bool:
        rows = losses.flush(epoch + 1)
        history.iterations.extend(rows)
        if hooks.on_iterations and rows:
            hooks.on_iterations(rows)
        if bar is not None and rows:
            bar.flushed(rows[-1]["loss"], running)
        return _all_finite(context.topology, not any(is_diverged(row["loss"]) for row in rows))

    for images, labels in batches:
        lr = context.optimizer.param_groups[0]["lr"]
        logits, loss = train_step(context, images, labels)
        iteration += 1
        done += 1
        running.update(logits.detach(), labels, loss.detach() * labels.shape[0])
        losses.add(iteration, lr, loss)
        if bar is not None:
            bar.advance(done, running)
        validate_now = (
            val_loader is not None
            and train_config.eval_every
            and iteration % train_config.eval_every == 0
        )
        if (len(losses) >= FLUSH_EVERY or validate_now) and not record():
            return _reduced(running, context.topology), "diverged"
        if validate_now:
            metrics = evaluate_batches(
                context.evaluated,
                val_loader,
                num_classes,
                context.device,
                context.amp_dtype,
                eval_criterion,
                context.tta_flip,
            )
            history.iterations[-1].update(
                val_loss=metrics["loss"], val_accuracy=metrics["accuracy"]
            )
        if stop is not None and _any_rank(context.topology, stop()) and done < len(train_loader):
            if not record():
                return running.compute(), "diverged"
            history.partial_epoch = {
                "epoch": epoch,
                "batch": done,
                "counts": running.counts.cpu(),
                "loss_sum": running.loss_sum.cpu(),
                "samples": running.samples,
                "torch_rng": torch.get_rng_state(),
            }
            return running.compute(), "interrupted"
    outcome = "done" if record() else "diverged"
    return _reduced(running, context.topology), outcome


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    train_loader,
    val_loader,
    *,
    num_classes: int,
    train_config: TrainConfig,
    optim_config: OptimConfig,
    device: torch.device,
    history: History | None = None,
    hooks: FitHooks = FitHooks(),
    progress: str | None = None,
    watch_loader=None,
    stop: Callable[[], bool] | None = None,
    topology: Topology = SINGLE,
    tta_flip: bool = False,
    class_weights: torch.Tensor | None = None,
    ema: WeightAverage | None = None,
) -> History:
    """Train `model` for the configured epochs, starting after those already in `history`.

    `watch_loader` (the test split, when asked for) is evaluated after every epoch for the
    record only (`test_*` columns): it never picks checkpoints or stops training. `stop` is
    polled at batch boundaries; when it returns True the loop ends "interrupted" (see above).
    `progress` shows each epoch as it runs: "bar" (a live bar), "lines" (a plain line now and
    then, for piped output; `training.progress`) or None.
    Under torchrun (`topology.enabled`) the model trains wrapped in DistributedDataParallel
    on this rank's shard; metrics are summed over ranks, and checkpoints hold the bare model.
    """
    history = history or History()
    history.monitor = effective_monitor(train_config.monitor, val_loader is not None)
    history.stopped = "running"
    context = StepContext(
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        criterion=nn.CrossEntropyLoss(
            weight=class_weights, label_smoothing=optim_config.label_smoothing
        ),
        device=device,
        amp_dtype=autocast_dtype(device, train_config.precision),
        grad_clip=optim_config.grad_clip,
        topology=topology,
        train_module=distributed.training_module(model, device, topology, train_config.compile),
        tta_flip=tta_flip,
        ema=ema,
    )

    for epoch in range(len(history.epochs), train_config.epochs):
        started = time.perf_counter()
        partial, history.partial_epoch = history.partial_epoch, None
        if partial is not None and partial["epoch"] != epoch:
            raise TrainingError(
                f"the saved state stopped in epoch {partial['epoch'] + 1}, but the history "
                f"holds {epoch} finished epochs; the checkpoint is inconsistent"
            )
        if stop is not None and _any_rank(topology, stop()):  # between epochs: last one saved
            history.partial_epoch = partial
            history.stopped = "interrupted"
            return history
        if partial is None:
            # dropout masks: rank 0 draws exactly what a single process would
            torch.manual_seed(
                train_config.seed * EPOCH_SEED_STRIDE + epoch + topology.rank * RANK_SEED_STRIDE
            )
        else:
            torch.set_rng_state(partial["torch_rng"])  # where the stopped epoch left it
            started -= partial["seconds"]
        train_loader.set_epoch(epoch)
        bar = epoch_progress(progress, len(train_loader), epoch + 1, train_config.epochs)
        try:
            train_metrics, outcome = train_epoch(
                context,
                train_loader,
                val_loader,
                epoch=epoch,
                num_classes=num_classes,
                train_config=train_config,
                history=history,
                hooks=hooks,
                bar=bar,
                partial=partial,
                stop=stop,
            )
        finally:
            if bar is not None:
                bar.close()
        if outcome != "done":
            if history.partial_epoch is not None:
                history.partial_epoch["seconds"] = time.perf_counter() - started
            history.stopped = outcome
            return history

        row: dict[str, Any] = {
            "epoch": epoch + 1,
            "train_loss": train_metrics["loss"],
            "train_accuracy": train_metrics["accuracy"],
            "train_f1": train_metrics["f1"],
            "val_loss": None,
            "val_accuracy": None,
            "val_f1": None,
            "lr": optimizer.param_groups[0]["lr"],
        }
        evaluations_started = time.perf_counter()
        for prefix, loader in (("val", val_loader), ("test", watch_loader)):
            if loader is not None:  # loss, accuracy and f1 of the epoch's weights
                plain_loss = nn.CrossEntropyLoss()  # no label smoothing in the record
                metrics = evaluate_batches(
                    context.evaluated,
                    loader,
                    num_classes,
                    device,
                    context.amp_dtype,
                    plain_loss,
                    tta_flip,
                )
                row.update({f"{prefix}_{name}": value for name, value in metrics.items()})
        if is_diverged(row["train_loss"]) or (
            row["val_loss"] is not None and is_diverged(row["val_loss"])
        ):
            history.stopped = "diverged"
            return history
        row["epoch_seconds"] = time.perf_counter() - started
        row["eval_seconds"] = time.perf_counter() - evaluations_started  # part of the above
        history.epochs.append(row)

        improved = update_best(history, row[history.monitor])
        if isinstance(scheduler, PlateauLR):  # cut once per epoch, before the state is saved
            scheduler.observe(row[history.monitor], history.monitor in LOWER_IS_BETTER)
        stop_early = (
            train_config.patience is not None
            and history.epochs_without_improvement >= train_config.patience
        )
        if stop_early or epoch + 1 == train_config.epochs:
            history.stopped = "early_stopped" if stop_early else "finished"
        stop_reason = None
        if hooks.on_epoch:
            stop_reason = hooks.on_epoch(
                row, improved, lambda: checkpoint_state(model, optimizer, scheduler, history, ema)
            )
        if stop_reason and history.stopped == "running":
            history.stopped = stop_reason
        if stop_early or stop_reason:
            return history
    history.stopped = "finished"
    return history


def update_best(history: History, value: float) -> bool:
    """Track the best monitored value; True when `value` improves on it."""
    lower = history.monitor in LOWER_IS_BETTER
    improved = history.best_value is None or (
        value < history.best_value if lower else value > history.best_value
    )
    if improved:
        history.best_value, history.best_epoch = value, len(history.epochs)
        history.epochs_without_improvement = 0
    else:
        history.epochs_without_improvement += 1
    return improved


def checkpoint_state(
    model, optimizer, scheduler, history: History, ema: WeightAverage | None = None
) -> dict[str, Any]:
    """The state to resume from: weights, optimizer, schedule, RNG and history. With `ema`,
    "model" holds the averaged weights (what the run evaluates) and "raw_model" the trained."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "history": history.to_state(),
        "torch_rng": torch.get_rng_state(),
    }
    if ema is not None:
        state["raw_model"], state["model"] = state["model"], ema.state_dict()
        state["ema_updates"] = ema.updates
    return state
