"""Ctrl-C and SIGTERM stop a run at a batch boundary, save it, mark it, and resume exactly."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest
import torch

from cnnlab.experiment.engine import resume, train
from cnnlab.training import load_checkpoint
from cnnlab.training import loop as loop_module
from cnnlab.training.interrupt import stop_on_signals

BATCHES = 8  # per epoch of the tiny run


def signal_at_step(monkeypatch, step: int, *signums: int) -> None:
    """Make the `step`-th training step (1-based, over the whole run) raise `signums` first."""
    real_step = loop_module.train_step
    calls = {"n": 0}

    def step_then_signal(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == step:
            for signum in signums:
                os.kill(os.getpid(), signum)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop_module, "train_step", step_then_signal)


@pytest.mark.parametrize(
    ("signum", "step", "batch"),
    [(signal.SIGTERM, 11, 3), (signal.SIGINT, BATCHES, 0), (signal.SIGINT, 1, 1)],
    ids=["sigterm-mid-epoch-2", "sigint-on-the-last-batch-of-epoch-1", "sigint-first-batch"],
)
def test_signal_stops_cleanly_and_resume_equals_the_uninterrupted_run(
    tiny_config, assert_same_run, monkeypatch, capsys, signum, step, batch
):
    whole = train(tiny_config("whole"), quiet=True, report=False)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal_at_step(monkeypatch, step, signum)
    name = signal.Signals(signum).name
    with pytest.raises(KeyboardInterrupt, match=f"interrupted by {name}"):
        train(tiny_config("cut"), quiet=True, report=False)
    monkeypatch.undo()
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # nothing left installed

    cut = whole.run_dir.parent / "cut"
    status = json.loads((cut / "status.json").read_text())
    epochs_done = step // BATCHES if batch == 0 else (step - batch) // BATCHES
    assert status == {"status": "interrupted", "epoch": epochs_done, "batch": batch, "signal": name}
    state = load_checkpoint(cut / "last.pt")
    partial = state["history"]["partial_epoch"]
    assert (partial["batch"] if partial else 0) == batch
    assert len(state["history"]["iterations"]) == step  # every trained batch is on record
    hint = f"resume with: cnnlab train --resume {cut}"
    assert hint in capsys.readouterr().err and hint in (cut / "train.log").read_text()

    resumed = resume(cut, quiet=True, report=False)
    assert resumed.status == "finished"
    assert_same_run(cut, whole.run_dir)


def test_a_second_ctrl_c_stops_at_once_and_the_run_restarts_its_epoch(
    tiny_config, assert_same_run, monkeypatch
):
    whole = train(tiny_config("whole"), quiet=True, report=False)
    signal_at_step(monkeypatch, BATCHES + 3, signal.SIGINT, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config("hard"), quiet=True, report=False)
    monkeypatch.undo()
    hard = whole.run_dir.parent / "hard"
    assert json.loads((hard / "status.json").read_text()) == {"status": "interrupted", "epoch": 1}
    assert load_checkpoint(hard / "last.pt")["history"]["partial_epoch"] is None  # epoch 1's
    resume(hard, quiet=True, report=False)
    assert_same_run(hard, whole.run_dir)


def test_handlers_exist_only_inside_the_block_and_only_in_the_main_thread():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with stop_on_signals() as stop:
        assert signal.getsignal(signal.SIGTERM) is not before[signal.SIGTERM]
        assert not stop.requested()
        os.kill(os.getpid(), signal.SIGTERM)  # handled: sets the flag, the test goes on
        assert stop.requested() and stop.signal_name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # a stop is pending: Ctrl-C now stops at once
    assert {s: signal.getsignal(s) for s in before} == before

    seen = []

    def in_a_thread():
        with stop_on_signals() as request:  # no signal.signal() off the main thread: no error
            seen.append((request.requested(), signal.getsignal(signal.SIGTERM)))

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join()
    assert seen == [(False, before[signal.SIGTERM])]


def stopped_mid_epoch(tiny_config, monkeypatch, extra):
    """Run `extra` whole, and again stopped by SIGTERM 3 batches into its second epoch:
    (the whole run's directory, the stopped one's)."""
    whole = train(tiny_config("whole", *extra), quiet=True, report=False)
    signal_at_step(monkeypatch, BATCHES + 3, signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config("cut", *extra), quiet=True, report=False)
    monkeypatch.undo()
    cut = whole.run_dir.parent / "cut"
    assert load_checkpoint(cut / "last.pt")["history"]["partial_epoch"]["batch"] == 3
    return whole.run_dir, cut


def test_balanced_sampling_with_class_weights_resumes_mid_epoch_exactly(
    tiny_config, assert_same_run, monkeypatch
):
    """data.sampler=balanced draws its epoch from (seed, epoch): a resume sees the same batches."""
    extra = ("data.sampler=balanced", "data.class_weights=auto")
    whole, cut = stopped_mid_epoch(tiny_config, monkeypatch, extra)
    resume(cut, quiet=True, report=False)
    assert_same_run(cut, whole)
    assert "sampler: balanced" in (cut / "train.log").read_text()


def test_ema_with_a_plateau_schedule_resumes_mid_epoch_exactly(
    tiny_config, assert_same_run, monkeypatch
):
    """train.ema's averaged weights and the plateau counters survive a stop inside an epoch."""
    extra = ("train.ema=0.9", "optim.schedule=plateau", "optim.plateau_patience=1")
    whole, cut = stopped_mid_epoch(tiny_config, monkeypatch, extra)
    assert "raw_model" in load_checkpoint(cut / "last.pt")
    resume(cut, quiet=True, report=False)
    assert_same_run(cut, whole)
    for name in ("model", "raw_model"):
        a, b = (load_checkpoint(cut / "last.pt")[name], load_checkpoint(whole / "last.pt")[name])
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_trivial_augment_and_random_erasing_resume_mid_epoch_exactly(
    tiny_config, assert_same_run, monkeypatch
):
    """The policy's and the erasing's draws come from the (seed, epoch) generator: replayed."""
    extra = ("data.augment=crop2,flip,trivial,erase25",)
    whole, cut = stopped_mid_epoch(tiny_config, monkeypatch, extra)
    resume(cut, quiet=True, report=False)
    assert_same_run(cut, whole)


def test_mixup_and_cutmix_resume_mid_epoch_exactly(tiny_config, assert_same_run, monkeypatch):
    """The mixing draws come from (seed, epoch): a resume replays the stopped epoch's mixing."""
    extra = ("data.mixup=0.4", "data.cutmix=1.0", "data.class_weights=auto")
    whole, cut = stopped_mid_epoch(tiny_config, monkeypatch, extra)
    resume(cut, quiet=True, report=False)
    assert_same_run(cut, whole)
    plain = train(tiny_config("plain"), quiet=True, report=False)  # mixing changes the weights
    ours, theirs = (load_checkpoint(d / "last.pt")["model"] for d in (cut, plain.run_dir))
    assert not all(torch.equal(ours[k], theirs[k]) for k in ours)
