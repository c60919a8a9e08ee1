"""Figures drawn partly by a forked child give the same files as drawn in one process, and a
failing child costs nothing but time."""

from __future__ import annotations

import os
import shutil

import pytest

from cnnlab.visualize import background, inputs_from_run, write_figures
from cnnlab.visualize.figure_table import FIGURES

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@pytest.fixture(scope="module")
def gray_run(tmp_path_factory, make_gray_run):
    return make_gray_run(tmp_path_factory.mktemp("background"), "conv")


def _copy_without_figures(run_dir, target):
    shutil.copytree(run_dir, target, ignore=shutil.ignore_patterns("figures"))
    return target


def _files(paths):
    return {path.name: path.read_bytes() for path in paths}


def test_drawable_keeps_table_order_and_skips_figures_drawn_elsewhere():
    assert background.drawable() == [name for name, e in FIGURES.items() if e.draw]
    assert background.drawable({"roc", "lr_find", "loss"}) == ["loss", "roc"]


def test_a_job_started_early_draws_its_names_while_the_parent_works(
    gray_run, tmp_path, monkeypatch
):
    one = _copy_without_figures(gray_run, tmp_path / "one")
    two = _copy_without_figures(gray_run, tmp_path / "two")
    early = ["loss", "accuracy", "f1", "lr"]
    expected = write_figures(one, inputs_from_run(one), names=early)
    monkeypatch.setattr(background, "can_fork", lambda: True)
    job = background.FigureJob(two, inputs_from_run(two), early)
    assert job.child is not None
    with background.figures_alongside(two, inputs_from_run(two), names={"roc"}) as later:
        pass
    written = job.finish()
    assert _files(written) == _files(expected)
    assert {path.stem for path in later} == {"roc"}
    assert {path.stem for path in (two / "figures").iterdir()} == {"roc", *early}


def test_forked_drawing_writes_the_same_files(gray_run, tmp_path, monkeypatch):
    one = _copy_without_figures(gray_run, tmp_path / "one")
    two = _copy_without_figures(gray_run, tmp_path / "two")
    expected = write_figures(one, inputs_from_run(one))
    monkeypatch.setattr(background, "can_fork", lambda: True)
    parent_pid = os.getpid()
    with background.figures_alongside(two, inputs_from_run(two)) as written:
        assert os.getpid() == parent_pid  # the child never runs the caller's block
        drawn_here = {path.stem for path in written}
    assert drawn_here == {name for name, e in FIGURES.items() if e.uses_model and e.draw}
    assert _files(written) == _files(expected)  # same names, byte for byte


def test_a_failing_child_is_redrawn_by_the_parent(gray_run, tmp_path, monkeypatch, caplog):
    run = _copy_without_figures(gray_run, tmp_path / "run")
    monkeypatch.setattr(background, "can_fork", lambda: True)

    def crash(*args, **kwargs):
        os._exit(3)

    monkeypatch.setattr(background, "_child", crash)
    with background.figures_alongside(run, inputs_from_run(run)) as written:
        pass
    assert {path.stem for path in written} >= {"loss", "roc", "confusion_matrix", "gradcam"}
    assert "drawing its figures here" in caplog.text


def test_without_fork_everything_is_drawn_in_process(gray_run, tmp_path, monkeypatch):
    run = _copy_without_figures(gray_run, tmp_path / "run")
    monkeypatch.setattr(background, "can_fork", lambda: False)
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked"))
    with background.figures_alongside(run, inputs_from_run(run)) as written:
        pass
    assert {path.stem for path in written} >= {"loss", "gradcam"}


def test_an_error_in_the_block_stops_the_child(gray_run, tmp_path, monkeypatch):
    run = _copy_without_figures(gray_run, tmp_path / "run")
    monkeypatch.setattr(background, "can_fork", lambda: True)
    started = []
    fork_child = background._fork_child

    def remember(*args):
        pid, read_end = fork_child(*args)
        started.append(pid)
        return pid, read_end

    monkeypatch.setattr(background, "_fork_child", remember)
    with pytest.raises(RuntimeError, match="boom"):
        with background.figures_alongside(run, inputs_from_run(run)):
            raise RuntimeError("boom")
    with pytest.raises(ChildProcessError):  # the child was waited for: nothing left to reap
        os.waitpid(started[0], os.WNOHANG)


def test_the_shared_queue_gives_each_name_to_one_process():
    names = [f"figure{i}" for i in range(200)]
    queue = background._Queue(names)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child takes names as fast as it can and reports them
        taken = []
        while (name := queue.take()) is not None:
            taken.append(name)
        os.write(write_end, "\n".join(taken).encode())
        os._exit(0)
    os.close(write_end)
    mine = []
    while (name := queue.take()) is not None:
        mine.append(name)
    with os.fdopen(read_end, "rb") as stream:
        theirs = [n for n in stream.read().decode().split("\n") if n]
    os.waitpid(pid, 0)
    assert sorted(mine + theirs) == sorted(names)  # every name once, none twice


def test_a_hung_child_is_killed_and_its_figures_drawn_here(gray_run, tmp_path, monkeypatch):
    run = _copy_without_figures(gray_run, tmp_path / "run")
    monkeypatch.setattr(background, "can_fork", lambda: True)
    monkeypatch.setattr(background, "CHILD_TIMEOUT_S", 1.0)

    def hang(*args, **kwargs):
        import time

        time.sleep(60)
        os._exit(0)

    monkeypatch.setattr(background, "_child", hang)
    with background.figures_alongside(run, inputs_from_run(run)) as written:
        pass
    assert {path.stem for path in written} >= {"loss", "roc", "gradcam"}
