"""One PyTorch run end to end: prepare, train (or resume), then evaluate, draw and report.

`train(config)` starts a run and `resume(run_dir)` continues one from `last.pt`; both return
a `RunResult`. The data and model are built once and handed on: after the last epoch the
same objects are evaluated, drawn and reported (`experiment.finish`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from cnnlab import transfer
from cnnlab.config import ExperimentConfig
from cnnlab.data import Dataset
from cnnlab.data.mixing import MixSpec
from cnnlab.errors import CnnlabError, TrainingError
from cnnlab.experiment import extend, faults, mlflow_tracker, tensorboard
from cnnlab.experiment.finish import finish, preload_drawing
from cnnlab.experiment.mlflow_tracker import MlflowTracker, Store
from cnnlab.experiment.prepare import Prepared, prepare, training_input_stats
from cnnlab.experiment.ranks import realign_schedule, writable_run
from cnnlab.experiment.results import RunResult, summary_metrics
from cnnlab.lrfind import LrFindResult
from cnnlab.models.source import model_source
from cnnlab.runs import SETTLED, Recorder, RunDir, claim_run_dir
from cnnlab.runs.env import environment
from cnnlab.training import distributed
from cnnlab.training.class_weights import describe_weights, weight_tensor
from cnnlab.training.device import precision_used, resolve_device
from cnnlab.training.distributed import topology_from_env
from cnnlab.training.interrupt import stop_on_signals
from cnnlab.training.loop import FitHooks, History, checkpoint_state, fit
from cnnlab.training.optim import check_optim, set_schedule_step
from cnnlab.training.progress import progress_mode

CHECKPOINT_FORMAT = 2  # 2: the checkpoint records its architecture (models.architecture)

EpochCallback = Callable[[dict[str, Any]], str | None]  # epoch row -> reason to stop, or None


def checkpoint_extra(prepared: Prepared) -> dict[str, Any]:
    """What a checkpoint holds besides the training state: enough to rebuild the model alone."""
    return {
        "format": CHECKPOINT_FORMAT,
        "class_names": list(prepared.class_names),
        **prepared.model.record(),
        "world_size": prepared.topology.world_size,
    }


def _hooks(
    recorder: Recorder,
    history: History,
    prepared: Prepared,
    writer: Any = None,
    on_epoch_done: EpochCallback | None = None,
    tracker: MlflowTracker | None = None,
) -> FitHooks:
    """Hooks that persist each epoch (checkpoints, then the recorder; TensorBoard, MLflow)."""
    extra = checkpoint_extra(prepared)
    run = recorder.run

    def on_epoch(row: dict[str, Any], improved: bool, state) -> str | None:
        checkpoint = {**state(), **extra, "epoch": row["epoch"]}
        # best before last: a crash between the two leaves last.pt one epoch behind, and the
        # resumed run redoes that epoch and rewrites best.pt identically; the other order
        # could leave a last.pt whose history names a best epoch that best.pt does not hold
        if improved:
            run.save_checkpoint("best", checkpoint)
        run.save_checkpoint("last", checkpoint)
        recorder.epoch(row, improved, history.epochs, history.iterations)
        if writer is not None:
            tensorboard.log_epoch(writer, row)
        if tracker is not None:
            tracker.log_epoch(row)
        return on_epoch_done(row) if on_epoch_done else None

    if writer is None:
        return FitHooks(on_epoch=on_epoch)
    return FitHooks(on_iterations=partial(tensorboard.log_iterations, writer), on_epoch=on_epoch)


def _fit(
    prepared: Prepared,
    recorder: Recorder,
    history: History,
    on_epoch: EpochCallback | None,
    tracker: MlflowTracker | None,
) -> History:
    """The loop, with signals, out-of-memory and hard stops recorded in the run."""
    config, run = prepared.config, recorder.run
    writer = tensorboard.open_writer(run.path) if config.train.tensorboard else None
    if prepared.class_weights is not None:  # on every start and resume: the loss they weight
        run.log(describe_weights(prepared.class_weights, prepared.class_names))
    if config.data.sampler == "balanced":
        run.log("sampler: balanced (every class equally often per epoch, with replacement)")
    mixing = MixSpec.of(config.data)
    if mixing.enabled:  # training accuracy then counts each image's dominant label
        run.log(f"mixing: {mixing.describe()}")
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
                hooks=_hooks(recorder, history, prepared, writer, on_epoch, tracker),
                progress=progress_mode(recorder.quiet),  # a bar, or lines when piped
                watch_loader=prepared.test_loader if config.train.watch_test else None,
                stop=stop.requested,
                topology=prepared.topology,
                tta_flip=config.model.tta_flip,
                class_weights=weight_tensor(prepared.class_weights, prepared.device),
                ema=prepared.ema,
            )
            if prepared.topology.enabled and history.stopped in SETTLED:
                distributed.check_in_step(prepared.topology, prepared.model)
                size = prepared.topology.world_size
                run.log(f"distributed: {size} processes; weights identical on all {size} ranks")
            if history.stopped == "interrupted":
                state = checkpoint_state(
                    prepared.model, prepared.optimizer, prepared.scheduler, history, prepared.ema
                )
                checkpoint = {**state, **checkpoint_extra(prepared), "epoch": len(history.epochs)}
                batches = len(prepared.train_loader)
                faults.save_interrupted(run, checkpoint, history, batches, stop.signal_name)
    except KeyboardInterrupt:  # a hard stop (second Ctrl-C): back to the last saved epoch
        if history.stopped != "interrupted":
            recorder.interrupted(len(history.epochs))
        raise
    except RuntimeError as error:  # torch.cuda.OutOfMemoryError is a RuntimeError
        if faults.is_out_of_memory(error):
            batch_size = config.train.batch_size
            faults.fail_out_of_memory(run, history, error, batch_size, prepared.device)
        raise
    except CnnlabError as error:  # a write that failed (a full disk): the last checkpoint stands
        faults.mark_failed(recorder, str(error), len(history.epochs))
        raise
    finally:
        if writer is not None:
            writer.close()
    if history.stopped == "interrupted":
        raise KeyboardInterrupt(f"run {run.path} interrupted by {stop.signal_name}")
    return history


def _run(
    prepared: Prepared,
    recorder: Recorder,
    history: History,
    *,
    on_epoch: EpochCallback | None = None,
    report: bool = True,
    lr_find: LrFindResult | None = None,
    train: bool = True,
    store: Store | None = None,
) -> RunResult:
    """Drive the loop, record how it ended, evaluate, then (with `report`) draw and report;
    with a `store`, the run is tracked in MLflow meanwhile.

    `on_epoch` sees each finished epoch and may stop the run with a reason (a search's
    pruning): the run is then marked `failed` with that reason and not evaluated. Raises
    `TrainingError` when the run diverged. Without `train`, `history` is a run trained to its
    end (not evaluated yet): nothing is trained.
    """
    with mlflow_tracker.tracking(store, recorder.run) as tracker:
        return _tracked_run(prepared, recorder, history, on_epoch, report, lr_find, train, tracker)


def _tracked_run(
    prepared: Prepared,
    recorder: Recorder,
    history: History,
    on_epoch: EpochCallback | None,
    report: bool,
    lr_find: LrFindResult | None,
    train: bool,
    tracker: MlflowTracker | None,
) -> RunResult:
    """`_run`'s work, each epoch and the final metrics also told to `tracker`."""
    config = prepared.config
    if report and prepared.topology.is_main:
        # Matplotlib and the report's libraries load on a thread while the first steps run
        # (measured: 0.6 s less after training, and a start not slowed as when they loaded
        # beside the data)
        preload_drawing()
    started = time.perf_counter()
    if train:
        history = _fit(prepared, recorder, history, on_epoch, tracker)
        seconds = time.perf_counter() - started
    else:
        seconds = sum(row.get("epoch_seconds") or 0.0 for row in history.epochs)
    if history.stopped == "diverged":
        raise recorder.diverged(history.iterations, len(history.epochs) + 1, config.optim.lr)
    if history.stopped not in SETTLED:  # stopped by `on_epoch`
        recorder.failed(history.stopped, len(history.epochs))
        return RunResult(recorder.run.path, history.stopped, history, {}, config)
    if history.stopped == "early_stopped":
        recorder.run.log(
            f"early stop: no {history.monitor} improvement in {config.train.patience} epochs"
        )
    recorder.trained(
        history.stopped, len(history.epochs), history.best_epoch, history.monitor, seconds
    )
    metrics = {"train_seconds": seconds}
    if prepared.topology.is_main:  # the test result is part of every run; figures need `report`
        metrics = finish(prepared, recorder, history, seconds, lr_find=lr_find, report=report)
        if tracker is not None:
            tracker.log_final(recorder.run)
    return RunResult(recorder.run.path, history.stopped, history, metrics, config)


def train(
    config: ExperimentConfig,
    *,
    quiet: bool = False,
    on_epoch: EpochCallback | None = None,
    report: bool = True,
    dataset: Dataset | None = None,
    lr_find: LrFindResult | None = None,
) -> RunResult:
    """Train one configured experiment into a new run directory under `config.out`.

    `on_epoch(row)` is called after each epoch is saved; returning a reason stops the run.
    The trained model is then evaluated and (with `report`) drawn and reported, in this process.
    `dataset` is the configured data when already loaded (by the range test).
    """
    check_optim(config.optim)  # every table lookup fails before any work
    tensorboard.require_tensorboard(config.train.tensorboard)
    mlflow_tracker.require_mlflow(config)
    if config.model.pretrained:  # config.yaml gets the backbone's model and absolute path
        config = transfer.resolve_config(config)
    topology = topology_from_env()
    # rank 0 tracks; a store that cannot be opened stops the run before its directory exists
    store = mlflow_tracker.open_store(config) if topology.is_main else None
    distributed.start(topology, resolve_device(config.train.device))
    path = None
    if topology.is_main:
        claimed, note = claim_run_dir(Path(config.out), config.run_name)
        path = claimed.path
        if note and not quiet:
            print(f"cnnlab: {note}", file=sys.stderr, flush=True)
    run_path = Path(distributed.from_main(topology, str(path)))
    quiet = quiet or not topology.is_main
    try:
        with writable_run(topology, RunDir(run_path)) as run:
            recorder = Recorder(run, config.train.epochs, quiet)
            run.write_config(config)
            recorder.started()
            with recorder.setting_up():
                prepared = prepare(config, topology, dataset)
                source = model_source(config.model.name, config.model.options)
                if source is not None:  # the report shows it even after the file changes
                    run.write_model_source(source)
            precision = precision_used(prepared.device, config.train.precision)
            env = environment(prepared.device, prepared.threads, precision)
            run.write_env({**env, "world_size": topology.world_size})
            where = f"device {prepared.device}" + (
                f", {topology.world_size} processes" if topology.enabled else ""
            )
            run.log(f"run {run.path.name}: {config.model.name} on {config.data.dataset}, {where}")
            if config.train.ema is not None:
                run.log(
                    f"ema: on, decay {config.train.ema}; validation, best.pt and the test use the averaged weights"
                )
            recorder.data(prepared.dataset)
            run.write_input_stats(training_input_stats(config, prepared.dataset))
            result = _run(
                prepared,
                recorder,
                History(),
                on_epoch=on_epoch,
                report=report,
                lr_find=lr_find,
                store=store,
            )
    finally:
        distributed.stop(topology)
    result.run_dir = run_path
    return result


def _history(state: dict[str, Any], path: Path) -> History:
    """The history a checkpoint holds; a damaged one raises naming the file."""
    try:
        return History.from_state(state["history"])
    except (KeyError, TypeError) as error:
        raise TrainingError(f"cannot resume from {path}: {error}") from None


def _restore(prepared: Prepared, state: dict[str, Any], path: Path) -> None:
    """Weights, optimizer, schedule and RNG from `state`."""
    try:
        if prepared.ema is None:
            prepared.model.load_state_dict(state["model"])
        else:  # "model" holds the average; training goes on from the trained weights
            prepared.model.load_state_dict(state["raw_model"])
            prepared.ema.load_state_dict(state["model"], state["ema_updates"])
        prepared.optimizer.load_state_dict(state["optimizer"])
        prepared.scheduler.load_state_dict(state["scheduler"])
    except (KeyError, RuntimeError, ValueError, TypeError) as error:
        raise TrainingError(f"cannot resume from {path}: {error}") from None
    torch.set_rng_state(state["torch_rng"])


def settled_result(
    run: RunDir, config: ExperimentConfig, status: str, history: History
) -> RunResult:
    """The result of a run that already finished and was evaluated (nothing is redone)."""
    metrics = summary_metrics(run.read_final(), run.read_test_metrics())
    return RunResult(Path(run.path), status, history, metrics, config)


def resume(
    run_dir: Path, *, quiet: bool = False, report: bool = True, epochs: int | None = None
) -> RunResult:
    """Continue the run in `run_dir` from its last checkpoint, to its configured epochs or to
    `epochs` (which trains a finished run further and re-plans its schedule: `extend`).

    A run trained to its end and evaluated has nothing to do: one line says so (unless
    quiet) and its result is returned as it stands.
    """
    run = RunDir(Path(run_dir))
    config = run.read_config()
    tensorboard.require_tensorboard(config.train.tensorboard)
    mlflow_tracker.require_mlflow(config)
    for folder in (run.path, run.figures):  # temporary files a killed atomic write left
        for leftover in folder.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)
    topology = topology_from_env()
    if not run.last_checkpoint.is_file():
        if epochs is not None:
            config = extend.with_epochs(config, epochs)
            if topology.is_main:
                run.write_config(config)
        prepared = prepare(config)
        run.log("resume: no last.pt yet, starting from the beginning")
        recorder = Recorder(run, config.train.epochs, quiet)
        store = mlflow_tracker.open_run_store(run, config) if topology.is_main else None
        return _run(prepared, recorder, History(), report=report, store=store)
    status = run.read_status().get("status")
    state = run.load_checkpoint("last")  # on the CPU: copied into the model where it lives
    history = _history(state, run.last_checkpoint)
    done = len(history.epochs)
    idle = extend.nothing_to_do(run, status, done, config.train.epochs, epochs)
    if idle and run.read_test_metrics() is not None:
        if not quiet:
            print(f"cnnlab: {idle}", file=sys.stderr, flush=True)
        return settled_result(run, config, status, history)
    # rank 0 logs on into the run's MLflow run; a store that cannot be opened stops here
    store = mlflow_tracker.open_run_store(run, config) if topology.is_main else None
    before = config
    if not idle:  # (a settled run not yet evaluated is evaluated; it trains nothing more)
        planned = extend.planned_epochs(run, config, status, history, epochs)
        config = extend.with_epochs(config, planned)
    prepared = prepare(config, topology)
    _restore(prepared, state, run.last_checkpoint)
    realign_schedule(
        prepared.scheduler,
        done,
        len(prepared.train_loader),
        state.get("world_size", 1),
        topology.world_size,
        history.partial_epoch is not None,
    )
    note = None
    if not idle and (status in SETTLED or config.train.epochs != before.train.epochs):
        note = _replan(prepared, run, before, status, history, topology.is_main)
    if topology.enabled:  # every rank read the run; rank 0 alone writes it from here on
        try:
            with writable_run(topology, run) as writable:
                recorder = Recorder(writable, config.train.epochs, quiet or not topology.is_main)
                if note:
                    recorder.say(note)
                result = _run(
                    prepared, recorder, history, report=report, train=not idle, store=store
                )
        finally:
            distributed.stop(topology)
        result.run_dir = run.path
        return result
    # The checkpoint is the truth: a crash just after it was written left these one epoch behind.
    run.write_epochs(history.epochs)
    run.write_iterations(history.iterations)
    batch = history.partial_epoch["batch"] if history.partial_epoch else 0
    where = f"in epoch {done + 1} after batch {batch}" if batch else ""
    run.log(f"resumed from {run.last_checkpoint.name} {where or f'after epoch {done}'}")
    recorder = Recorder(run, config.train.epochs, quiet)
    if note:
        recorder.say(note)
    return _run(prepared, recorder, history, report=report, train=not idle, store=store)


def _replan(
    prepared: Prepared,
    run: RunDir,
    before: ExperimentConfig,
    status: str,
    history: History,
    is_main: bool,
) -> str:
    """A resume with `--epochs`: config.yaml records the new plan, the schedule is re-planned
    at the current iteration and an early-stopped run's patience restarts; the line saying so."""
    after, scheduler = prepared.config, prepared.scheduler
    lr_before = prepared.optimizer.param_groups[0]["lr"]
    if after.train.epochs != before.train.epochs:
        set_schedule_step(scheduler, scheduler.last_epoch)  # the new plan's lr at this step
        if is_main:
            run.write_config(after)
    if status == "early_stopped":
        history.epochs_without_improvement = 0
    lr = (lr_before, prepared.optimizer.param_groups[0]["lr"])
    done = len(history.epochs)
    return extend.extension_line(status, done, before, after, scheduler.last_epoch, lr)
