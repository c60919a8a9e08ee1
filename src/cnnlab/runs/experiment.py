"""One experiment end to end: data, model, loop, run directory, test accuracy.

`train(config)` starts a run and `resume(run_dir)` continues one from `last.pt`; both
return a `RunResult`. Only here do the stages meet; each stays ignorant of the others.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnlab.config import ExperimentConfig, build_config, dump_config
from cnnlab.data import Dataset, load_dataset
from cnnlab.data.augment import AugmentSpec
from cnnlab.data.loader import BatchLoader, Normalize, channel_stats
from cnnlab.data.subset import SubsetSpec, apply_subset
from cnnlab.errors import TrainingError
from cnnlab.models import build_model
from cnnlab.runs import faults, tensorboard
from cnnlab.runs.display import format_epoch, results_html, results_markdown
from cnnlab.runs.env import environment
from cnnlab.runs.ranks import realign_schedule, writable_run
from cnnlab.runs.rundir import RunDir, new_run_dir
from cnnlab.training import distributed
from cnnlab.training.checkpoint import load_checkpoint, save_checkpoint
from cnnlab.training.device import (
    autocast_dtype,
    configure_cpu,
    configure_cuda,
    default_eval_batch_size,
    resolve_device,
    use_channels_last,
)
from cnnlab.training.distributed import SINGLE, Topology, topology_from_env
from cnnlab.training.interrupt import stop_on_signals
from cnnlab.training.loop import FitHooks, History, checkpoint_state, evaluate_batches, fit
from cnnlab.training.optim import build_optimizer, build_schedule
from cnnlab.training.progress import show_progress

CHECKPOINT_FORMAT = 1


class Classifier(nn.Module):
    """A network with its input normalisation as the first step: uint8-scaled [0, 1] in, logits out."""

    def __init__(self, normalize: Normalize, net: nn.Module, tta_flip: bool = False) -> None:
        super().__init__()
        self.normalize = normalize
        self.net = net
        self.tta_flip = tta_flip  # eval mode: average the logits of x and of its mirror

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tta_flip and not self.training:  # one pass over [x; mirrored x], then the mean
            both = self.net(self.normalize(torch.cat([x, x.flip(-1)])))  # (2B, classes)
            return both.view(2, x.shape[0], -1).mean(0)
        return self.net(self.normalize(x))

    def extra_repr(self) -> str:
        return "tta_flip=True" if self.tta_flip else ""


@dataclass
class RunResult:
    """What a finished (or stopped) run produced."""

    run_dir: Path
    status: str
    history: History = field(repr=False)  # every epoch and iteration: too long to print
    metrics: dict[str, float] = field(default_factory=dict)  # final train/test accuracy...
    config: ExperimentConfig | None = None

    def _repr_html_(self) -> str:
        return results_html([self], caption=str(self.run_dir))

    def _repr_markdown_(self) -> str:
        return results_markdown([self])


@dataclass
class Prepared:
    """A run's data, model and optimisation objects, ready for the loop."""

    config: ExperimentConfig
    dataset: Dataset
    device: torch.device
    threads: int
    model: Classifier
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    train_loader: BatchLoader
    val_loader: BatchLoader | None
    test_loader: BatchLoader | None
    eval_train_loader: BatchLoader
    topology: Topology = SINGLE  # this process among torchrun's (one process: SINGLE)


def load_experiment_data(config: ExperimentConfig) -> Dataset:
    """The configured dataset with its class subset, per-class count and validation split."""
    data = config.data
    dataset = load_dataset(
        data.dataset,
        data_dir=Path(data.data_dir) if data.data_dir else None,
        offline=data.offline,
        channels=data.channels,
        image_size=data.image_size,
        skip_bad=data.skip_bad,
        seed=config.train.seed,
    )
    spec = SubsetSpec(
        classes=data.classes,
        per_class=data.per_class,
        fraction=data.fraction,
        val=data.val,
        seed=config.train.seed,
    )
    return dataset if spec.is_identity else apply_subset(dataset, spec)


def build_classifier(config: ExperimentConfig, in_shape, num_classes: int, mean, std) -> Classifier:
    """The configured network behind a normalisation step, initialised from the run's seed."""
    std = np.where(np.asarray(std) > 0, std, 1.0)  # a constant channel: only subtract its mean
    torch.manual_seed(config.train.seed)
    if config.model.pretrained:  # a backbone and a new head (imported here: transfer imports us)
        from cnnlab.transfer import transfer_architecture

        net = transfer_architecture(config, tuple(in_shape), num_classes)
    else:
        net = build_model(config.model.name, tuple(in_shape), num_classes, **config.model.options)
    return Classifier(Normalize(mean, std), net, tta_flip=config.model.tta_flip)


def prepare(config: ExperimentConfig, topology: Topology = SINGLE) -> Prepared:
    """Everything the loop needs, built from the config (deterministically from its seed).

    Under torchrun the training loader yields this rank's shard of every epoch.
    """
    threads = configure_cpu(config.train.threads)
    device = distributed.start(topology, resolve_device(config.train.device))
    configure_cuda(device)
    dataset = load_experiment_data(config)
    train_split = dataset.split("train")
    if config.model.pretrained:  # the backbone's weights and normalisation, a new head
        from cnnlab import transfer  # here, not at the top: transfer imports this module

        model = transfer.pretrained_classifier(config, train_split.image_shape, dataset.num_classes)
    else:
        mean, std = channel_stats(train_split)
        model = build_classifier(config, train_split.image_shape, dataset.num_classes, mean, std)
    channels_last = use_channels_last(config.train.channels_last, device)
    model = model.to(
        device, memory_format=torch.channels_last if channels_last else torch.preserve_format
    )
    loader_options = {"device": device, "seed": config.train.seed, "channels_last": channels_last}
    eval_batch_size = config.train.eval_batch_size or default_eval_batch_size(device)
    eval_options = {**loader_options, "batch_size": eval_batch_size, "shuffle": False}
    train_loader = BatchLoader(
        train_split,
        batch_size=config.train.batch_size,
        shuffle=True,
        augment=AugmentSpec.parse(config.data.augment or None),
        rank=topology.rank,
        world_size=topology.world_size,
        **loader_options,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    if config.model.pretrained:  # named groups: head, then backbone (its own lr and start)
        params = transfer.param_groups(model, config.train, config.optim.lr)
    optimizer = build_optimizer(params, config.optim, device)
    scheduler = build_schedule(optimizer, config.optim, len(train_loader), config.train.epochs)
    split = dataset.splits.get
    return Prepared(
        config=config,
        dataset=dataset,
        device=device,
        threads=threads,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        train_loader=train_loader,
        val_loader=BatchLoader(split("val"), **eval_options) if split("val") else None,
        test_loader=BatchLoader(split("test"), **eval_options) if split("test") else None,
        eval_train_loader=BatchLoader(train_split, **eval_options),
        topology=topology,
    )


EpochCallback = Callable[[dict[str, Any]], str | None]  # epoch row -> reason to stop, or None


def _hooks(
    run: RunDir,
    history: History,
    prepared: Prepared,
    quiet: bool,
    writer: Any = None,
    on_epoch_done: EpochCallback | None = None,
) -> FitHooks:
    """Hooks that persist each epoch (metrics, iterations, checkpoints, log line; TensorBoard)."""
    extra = _checkpoint_extra(prepared)

    def on_epoch(row: dict[str, Any], improved: bool, state) -> str | None:
        checkpoint = {**state(), **extra, "epoch": row["epoch"]}
        # best before last: a crash between the two leaves last.pt one epoch behind, and the
        # resumed run redoes that epoch and rewrites best.pt identically; the other order
        # could leave a last.pt whose history names a best epoch that best.pt does not hold
        if improved:
            save_checkpoint(run.best_checkpoint, checkpoint)
        save_checkpoint(run.last_checkpoint, checkpoint)
        run.write_metrics(history.epochs)
        run.write_iterations(history.iterations)
        line = format_epoch(row, prepared.config.train.epochs) + ("  *" if improved else "")
        run.log(line)
        if not quiet:
            print(line, file=sys.stderr, flush=True)
        run.write_status("running", epoch=row["epoch"], epochs=prepared.config.train.epochs)
        if writer is not None:
            tensorboard.log_epoch(writer, row)
        return on_epoch_done(row) if on_epoch_done else None

    if writer is None:
        return FitHooks(on_epoch=on_epoch)
    return FitHooks(on_iterations=partial(tensorboard.log_iterations, writer), on_epoch=on_epoch)


def _checkpoint_extra(prepared: Prepared) -> dict[str, Any]:
    """What a checkpoint holds besides the training state: enough to rebuild the model."""
    return {
        "format": CHECKPOINT_FORMAT,
        "class_names": list(prepared.dataset.class_names),
        "in_shape": list(prepared.dataset.split("train").image_shape),
        "mean": prepared.model.normalize.mean.flatten().tolist(),
        "std": prepared.model.normalize.std.flatten().tolist(),
        "world_size": prepared.topology.world_size,
    }


def _final_metrics(prepared: Prepared, run: RunDir) -> dict[str, float]:
    """Train and test accuracy of the best checkpoint (plain forward passes, no augmentation)."""
    state = load_checkpoint(run.best_checkpoint, map_location=prepared.device)
    prepared.model.load_state_dict(state["model"])
    amp = autocast_dtype(prepared.device, prepared.config.train.precision)
    criterion = nn.CrossEntropyLoss()
    num_classes = prepared.dataset.num_classes
    metrics = {}
    for name, loader in (("train", prepared.eval_train_loader), ("test", prepared.test_loader)):
        if loader is not None:
            started = time.perf_counter()
            values = evaluate_batches(
                prepared.model, loader, num_classes, prepared.device, amp, criterion
            )
            metrics.update({f"{name}_{k}": v for k, v in values.items()})
            metrics[f"{name}_eval_seconds"] = time.perf_counter() - started
    return metrics


def _run(
    prepared: Prepared,
    run: RunDir,
    history: History,
    quiet: bool,
    on_epoch: EpochCallback | None = None,
) -> RunResult:
    """Drive the loop, then record how it ended; raises `TrainingError` when it diverged.

    `on_epoch` sees each finished epoch and may stop the run with a reason (a search's
    pruning): the run is then marked `failed` with that reason and not evaluated.
    """
    config = prepared.config
    progress = show_progress(quiet)  # a terminal or a notebook, and not --quiet
    writer = tensorboard.open_writer(run.path) if config.train.tensorboard else None
    started = time.perf_counter()
    try:
        with stop_on_signals() as stop:  # Ctrl-C / SIGTERM: stop at a batch boundary and save
            history = fit(
                prepared.model,
                prepared.optimizer,
                prepared.scheduler,
                prepared.train_loader,
                prepared.val_loader,
                num_classes=prepared.dataset.num_classes,
                train_config=config.train,
                optim_config=config.optim,
                device=prepared.device,
                history=history,
                hooks=_hooks(run, history, prepared, quiet, writer, on_epoch),
                progress=progress,
                watch_loader=prepared.test_loader if config.train.watch_test else None,
                stop=stop.requested,
                topology=prepared.topology,
            )
            if prepared.topology.enabled and history.stopped in ("finished", "early_stopped"):
                distributed.check_in_step(prepared.topology, prepared.model)
                size = prepared.topology.world_size
                run.log(f"distributed: {size} processes; weights identical on all {size} ranks")
            if history.stopped == "interrupted":
                state = checkpoint_state(
                    prepared.model, prepared.optimizer, prepared.scheduler, history
                )
                checkpoint = {**state, **_checkpoint_extra(prepared), "epoch": len(history.epochs)}
                batches = len(prepared.train_loader)
                faults.save_interrupted(run, checkpoint, history, batches, stop.signal_name)
    except KeyboardInterrupt:  # a hard stop (second Ctrl-C): back to the last saved epoch
        if history.stopped != "interrupted":
            run.write_status("interrupted", epoch=len(history.epochs))
            run.log(
                f"interrupted after epoch {len(history.epochs)}; resume with: cnnlab train --resume {run.path}"
            )
        raise
    except RuntimeError as error:  # torch.cuda.OutOfMemoryError is a RuntimeError
        if faults.is_out_of_memory(error):
            batch_size = config.train.batch_size
            faults.fail_out_of_memory(run, history, error, batch_size, prepared.device)
        raise
    finally:
        if writer is not None:
            writer.close()
    if history.stopped == "interrupted":
        raise KeyboardInterrupt(f"run {run.path} interrupted by {stop.signal_name}")
    seconds = time.perf_counter() - started
    if history.stopped == "diverged":
        iteration = history.iterations[-1]["iteration"] if history.iterations else 0
        run.write_iterations(history.iterations)
        run.write_status("diverged", epoch=len(history.epochs) + 1, iteration=iteration)
        run.log(
            f"diverged: the loss became NaN, infinite or exploded near iteration {iteration}; stopped"
        )
        raise TrainingError(
            f"run {run.path} diverged: the loss became NaN, infinite or exploded near iteration {iteration} "
            f"(epoch {len(history.epochs) + 1}); try a lower learning rate (optim.lr={config.optim.lr})"
        )
    if history.stopped not in ("finished", "early_stopped"):  # stopped by `on_epoch`
        run.write_status("failed", reason=history.stopped, epoch=len(history.epochs))
        run.log(f"stopped after epoch {len(history.epochs)}: {history.stopped}")
        return RunResult(run.path, history.stopped, history, {}, config)
    metrics = _final_metrics(prepared, run)
    metrics["train_seconds"] = seconds
    run.write_json("final_metrics.json", metrics)
    if history.stopped == "early_stopped":
        run.log(f"early stop: no {history.monitor} improvement in {config.train.patience} epochs")
    run.log(f"best epoch {history.best_epoch} by {history.monitor}; training took {seconds:.1f}s")
    run.log(f"train accuracy: {metrics['train_accuracy']:.4f}")
    if "test_accuracy" in metrics:
        run.log_result(f"test accuracy: {metrics['test_accuracy']:.4f}")
    run.write_status(history.stopped, epoch=len(history.epochs), best_epoch=history.best_epoch)
    return RunResult(run.path, history.stopped, history, metrics, config)


def train(
    config: ExperimentConfig, *, quiet: bool = False, on_epoch: EpochCallback | None = None
) -> RunResult:
    """Train one configured experiment into a new run directory under `config.out`.

    `on_epoch(row)` is called after each epoch is saved; returning a reason stops the run.
    """
    tensorboard.require_tensorboard(config.train.tensorboard)  # fail before any work
    if config.model.pretrained:  # config.yaml gets the backbone's model and absolute path
        from cnnlab.transfer import resolve_config

        config = resolve_config(config)
    topology = topology_from_env()
    distributed.start(topology, resolve_device(config.train.device))
    path = new_run_dir(Path(config.out), config.run_name).path if topology.is_main else None
    run_path = Path(distributed.from_main(topology, str(path)))
    try:
        with writable_run(topology, RunDir(run_path)) as run:
            run.write_config(dump_config(config))
            run.write_status("running", epoch=0, epochs=config.train.epochs)
            prepared = prepare(config, topology)
            env = environment(prepared.device, prepared.threads)
            run.write_json("env.json", {**env, "world_size": topology.world_size})
            where = f"device {prepared.device}" + (
                f", {topology.world_size} processes" if topology.enabled else ""
            )
            run.log(f"run {run.path.name}: {config.model.name} on {config.data.dataset}, {where}")
            sizes = ", ".join(f"{name} {len(s)}" for name, s in prepared.dataset.splits.items())
            run.log(f"data: {sizes}; classes {list(prepared.dataset.class_names)}")
            result = _run(prepared, run, History(), quiet or not topology.is_main, on_epoch)
    finally:
        distributed.stop(topology)
    result.run_dir = run_path
    return result


def resume(run_dir: Path, *, quiet: bool = False) -> RunResult:
    """Continue the run in `run_dir` from its last checkpoint, to the configured epochs."""
    run = RunDir(Path(run_dir))
    config = build_config(run.read_config(), str(run.config_path))
    tensorboard.require_tensorboard(config.train.tensorboard)
    for folder in (run.path, run.figures):  # temporary files a killed atomic write left
        for leftover in folder.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)
    if not run.last_checkpoint.is_file():
        prepared = prepare(config)
        run.log("resume: no last.pt yet, starting from the beginning")
        return _run(prepared, run, History(), quiet)
    status = run.read_status().get("status")
    final_metrics = run.path / "final_metrics.json"
    if status in ("finished", "early_stopped") and final_metrics.is_file():
        state = load_checkpoint(run.last_checkpoint)
        metrics = json.loads(final_metrics.read_text(encoding="utf-8"))
        return RunResult(run.path, status, History.from_state(state["history"]), metrics, config)
    topology = topology_from_env()
    prepared = prepare(config, topology)
    state = load_checkpoint(run.last_checkpoint, map_location=prepared.device)
    try:
        prepared.model.load_state_dict(state["model"])
        prepared.optimizer.load_state_dict(state["optimizer"])
        prepared.scheduler.load_state_dict(state["scheduler"])
        history = History.from_state(state["history"])
    except (KeyError, RuntimeError, ValueError, TypeError) as error:
        raise TrainingError(f"cannot resume from {run.last_checkpoint}: {error}") from None
    torch.set_rng_state(state["torch_rng"])
    realign_schedule(
        prepared.scheduler,
        len(history.epochs),
        len(prepared.train_loader),
        state.get("world_size", 1),
        topology.world_size,
        history.partial_epoch is not None,
    )
    if topology.enabled:  # every rank read the run; rank 0 alone writes it from here on
        try:
            with writable_run(topology, run) as writable:
                result = _run(prepared, writable, history, quiet or not topology.is_main)
        finally:
            distributed.stop(topology)
        result.run_dir = run.path
        return result
    # The checkpoint is the truth: a crash just after it was written left these one epoch behind.
    run.write_metrics(history.epochs)
    run.write_iterations(history.iterations)
    batch = history.partial_epoch["batch"] if history.partial_epoch else 0
    where = f"in epoch {len(history.epochs) + 1} after batch {batch}" if batch else ""
    run.log(
        f"resumed from {run.last_checkpoint.name} {where or f'after epoch {len(history.epochs)}'}"
    )
    return _run(prepared, run, history, quiet)
