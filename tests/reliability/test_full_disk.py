"""A full disk while writing a checkpoint, a figure or a table: a clear error, the old file intact.

No tmpfs can be mounted here, so the disk fills through patched writers: a file object that
raises ENOSPC once it has taken a few hundred bytes (what `write` does on a full disk; torch
wraps that OSError in a RuntimeError of its own), and an `os.fsync` that raises it (what a
file system with delayed allocation does).
"""

from __future__ import annotations

import errno
import json
import os

import matplotlib
import pytest
import torch
from matplotlib.figure import Figure

from cnnlab import atomic
from cnnlab.cli import main
from cnnlab.errors import CnnlabError
from cnnlab.experiment.engine import resume, train
from cnnlab.runs import RunDir
from cnnlab.training import load_checkpoint
from cnnlab.visualize.save import save_figure

matplotlib.use("Agg")


def no_space() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class FillingFile:
    """A writable file that raises ENOSPC once `room` bytes have been written to it."""

    def __init__(self, stream, room: int) -> None:
        self.stream, self.room, self.written = stream, room, 0

    def write(self, data):
        if self.written + len(data) > self.room:
            raise no_space()
        self.written += len(data)
        return self.stream.write(data)

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stream.close()


def fill_disk_after_epochs(monkeypatch, epochs: int) -> None:
    """Files opened for an atomic write after `epochs` epochs were saved fill up at 300 bytes.

    (status.json, written last in an epoch, still fits: the next epoch's checkpoint is the
    first write to fail.)
    """
    real_fdopen, real_write_iterations = os.fdopen, RunDir.write_iterations
    saved = {"epochs": 0}

    def fdopen(fd, *args, **kwargs):
        stream = real_fdopen(fd, *args, **kwargs)
        return FillingFile(stream, room=300) if saved["epochs"] >= epochs else stream

    def write_iterations(self, rows):
        real_write_iterations(self, rows)
        saved["epochs"] = rows[-1]["epoch"]

    monkeypatch.setattr(os, "fdopen", fdopen)
    monkeypatch.setattr(RunDir, "write_iterations", write_iterations)


def test_a_full_disk_at_a_checkpoint_names_the_file_and_keeps_the_previous_one(
    tiny_config, tiny_overrides, assert_same_run, monkeypatch, capsys
):
    whole = train(tiny_config("whole"), quiet=True, report=False)
    out = whole.run_dir.parent
    fill_disk_after_epochs(monkeypatch, 1)
    flags = [f"--set={item}" for item in (*tiny_overrides, f"out={out}", "name=full")]
    assert main(["train", *flags, "--quiet", "--no-report"]) == 1
    monkeypatch.undo()
    error = capsys.readouterr().err
    run = out / "full"
    assert f"cannot write {run}/" in error and "no space left on the device" in error
    assert ".pt" in error.split("no space")[0]  # a checkpoint, named
    assert "previous version is intact" in error

    status = json.loads((run / "status.json").read_text())  # the run says what happened
    assert status["status"] == "failed" and "no space left" in status["reason"]
    assert "cnnlab train --resume" in status["reason"]
    state = load_checkpoint(run / "last.pt")  # the epoch-1 checkpoint, whole
    assert [row["epoch"] for row in state["history"]["epochs"]] == [1]
    assert load_checkpoint(run / "best.pt")["epoch"] == 1
    assert not list(run.glob(".*.tmp"))  # the half-written file was removed
    resume(run, quiet=True, report=False)  # space is back: the run finishes as if nothing happened
    assert_same_run(run, whole.run_dir)


def test_torch_wraps_the_enospc_and_it_is_still_recognised(tmp_path):
    target = tmp_path / "model.pt"
    real_save = torch.save
    with pytest.raises(CnnlabError, match=r"cannot write .*model\.pt: no space left"):
        with atomic.atomic_write(target) as stream:
            real_save({"w": torch.zeros(10_000)}, FillingFile(stream, room=500))
    assert not target.exists() and not list(tmp_path.iterdir())


def test_a_full_disk_at_a_figure_or_a_table_keeps_the_old_file(tmp_path, monkeypatch):
    figure = Figure()
    figure.add_subplot().plot([0, 1], [1, 0])
    png = save_figure(figure, tmp_path / "curves")[0]
    table = atomic.write_text(tmp_path / "metrics.csv", "epoch,loss\n1,0.5\n")
    before = png.read_bytes(), table.read_text()

    def fsync(fd):
        raise no_space()  # the data did not fit when it had to reach the disk

    monkeypatch.setattr(os, "fsync", fsync)
    figure.add_subplot().plot([0, 1], [0, 1])
    with pytest.raises(CnnlabError, match=rf"cannot write {png}: no space left on the device"):
        save_figure(figure, tmp_path / "curves")
    with pytest.raises(CnnlabError, match=r"metrics\.csv: no space left"):
        atomic.write_text(table, "epoch,loss\n1,0.5\n2,0.4\n")
    assert (png.read_bytes(), table.read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png", "metrics.csv"]


def test_other_write_errors_pass_through_unchanged(tmp_path, monkeypatch):
    def fsync(fd):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="I/O error"):
        atomic.write_bytes(tmp_path / "x.bin", b"data")
    assert not list(tmp_path.iterdir())
