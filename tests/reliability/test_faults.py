"""Out of memory on a batch, divergence, failures in a sweep: marked, reported, the rest goes on.

Also a sweep stopped mid-way (SIGTERM in its second run) that is simply started again.
"""

from __future__ import annotations

import csv
import json
import os
import signal

import pytest
import torch

from cnnlab.errors import TrainingError
from cnnlab.experiment.engine import resume, train
from cnnlab.models.classifier import Classifier
from cnnlab.sweep import run_sweep, runner, spec_from_dict
from cnnlab.training import load_checkpoint
from cnnlab.training import loop as loop_module

CUDA_OOM = "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)"
CPU_OOM = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 8589934592 bytes"
SWEEP_BASE = {
    "data": {"dataset": "mnist-sample", "classes": [0, 1], "per_class": 8, "offline": True},
    "model": {"name": "fc_only"},
    "train": {"epochs": 2, "batch_size": 8, "device": "cpu", "threads": 1},
    "optim": {"optimizer": "sgd"},
}


def out_of_memory_once(monkeypatch, at_call: int, error: Exception) -> None:
    """The model's `at_call`-th forward pass (1-based, over the whole test) raises `error`."""
    real_forward = Classifier.forward
    calls = {"n": 0}

    def forward(self, x):
        calls["n"] += 1
        if calls["n"] == at_call:
            raise error
        return real_forward(self, x)

    monkeypatch.setattr(Classifier, "forward", forward)


@pytest.mark.parametrize(
    "error",
    [torch.cuda.OutOfMemoryError(CUDA_OOM), RuntimeError(CPU_OOM)],
    ids=["cuda", "cpu"],
)
def test_out_of_memory_on_a_batch_marks_the_run_failed_and_it_can_resume(
    tiny_config, assert_same_run, monkeypatch, error
):
    whole = train(tiny_config("whole"), quiet=True, report=False)
    # epoch 1: 8 training batches, then 1 validation batch; the 12th forward is in epoch 2
    out_of_memory_once(monkeypatch, 12, error)
    with pytest.raises(TrainingError, match=r"out of memory in epoch 2 with train\.batch_size=8"):
        train(tiny_config("oom"), quiet=True, report=False)
    monkeypatch.undo()
    run = whole.run_dir.parent / "oom"
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "failed" and status["epoch"] == 1
    assert str(error).split(".")[0] in status["reason"]  # the device's own words are kept
    assert "failed: out of memory in epoch 2" in (run / "train.log").read_text()
    assert len(load_checkpoint(run / "last.pt")["history"]["epochs"]) == 1  # intact
    resume(run, quiet=True, report=False)  # e.g. after closing what held the memory
    assert_same_run(run, whole.run_dir)


def test_a_non_memory_runtime_error_is_not_dressed_up(tiny_config, monkeypatch):
    out_of_memory_once(monkeypatch, 3, RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        train(tiny_config("bug"), quiet=True, report=False)


def read_rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_out_of_memory_divergence_and_a_crash_in_one_sweep_are_marked_and_it_goes_on(
    tmp_path, monkeypatch, sweep_run_fails_at
):
    grid = {"optim.lr": [0.5, 1e30, 0.3, 0.01]}
    spec = spec_from_dict({"name": "faults", "base": SWEEP_BASE, "grid": grid})
    out_of_memory_once(monkeypatch, 1, torch.cuda.OutOfMemoryError(CUDA_OOM))  # run 1
    sweep_run_fails_at(0.3, ValueError("a bug in a callback"))
    result = run_sweep(spec, tmp_path, report=False)
    statuses = [row["status"] for row in read_rows(result.csv_path)]
    assert statuses[0].startswith("failed: run ") and "out of memory in epoch 1" in statuses[0]
    assert statuses[1:] == ["diverged", "failed: a bug in a callback", "finished"]
    markdown = result.markdown_path.read_text(encoding="utf-8")
    assert "out of memory" in markdown and "diverged" in markdown


def test_a_sweep_stopped_mid_way_resumes_without_retraining_or_duplicating(tmp_path, monkeypatch):
    spec = spec_from_dict(
        {"name": "stop", "base": SWEEP_BASE, "grid": {"optim.lr": [0.1, 0.05, 0.02]}}
    )
    clean = run_sweep(spec, tmp_path / "clean", report=False)

    real_step, calls = loop_module.train_step, {"n": 0}

    def step(*args, **kwargs):  # 2 batches per epoch, 2 epochs: step 7 is run 2, epoch 2
        calls["n"] += 1
        if calls["n"] == 7:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop_module, "train_step", step)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, tmp_path / "cut", report=False)
    monkeypatch.undo()
    runs = tmp_path / "cut" / "stop" / "runs"
    first, second, third = (runs / row["run"] for row in read_rows(clean.csv_path))
    assert json.loads((second / "status.json").read_text())["status"] == "interrupted"
    assert not third.exists()
    first_log = (first / "train.log").read_text()

    started = []
    for verb in ("train", "resume"):
        real = getattr(runner.experiment, verb)
        monkeypatch.setattr(
            runner.experiment,
            verb,
            lambda *a, _v=verb, _r=real, **k: started.append(_v) or _r(*a, **k),
        )
    again = run_sweep(spec, tmp_path / "cut", report=False)
    assert started == ["resume", "train"]  # the finished run was left alone
    assert (first / "train.log").read_text() == first_log
    ours, theirs = read_rows(again.csv_path), read_rows(clean.csv_path)
    assert [{k: v for k, v in r.items() if k != "time_s"} for r in ours] == [
        {k: v for k, v in r.items() if k != "time_s"} for r in theirs
    ]
    assert sorted(p.name for p in runs.iterdir()) == sorted(r["run"] for r in theirs)
