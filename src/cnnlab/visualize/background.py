"""A run's figures drawn by forked children beside the parent, sharing the work.

After training, drawing a run's figures was the largest step of `cnnlab train` (1.0-1.4 s of
2.2 s on a 2-core CPU, issue #18), all of it single-threaded Python and Matplotlib while the
second core idled. On Linux with two or more cores, a `FigureJob` forks a child that draws a
list of figures, taking them one at a time from a counter shared with the parent, which
takes whatever the child has not started when it calls `finish`. `figures_alongside` runs a
job for the figures that need no model while the parent draws the model's (filters, feature
maps, Grad-CAM, the batch preview replayed on the model's device) and runs the caller's block.
The child sets torch to one thread first (GNU OpenMP's thread pool does not survive a fork:
a child using it hangs), and the parent runs torch on one thread while a child works (a pool
of two threads beside a busy core ran twice as slow). If a child fails for any reason, the
parent draws its figures itself, so the files are the same.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import select
import signal
import sys
import time
import warnings
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from cnnlab.visualize.figure_table import FIGURES, FigureInputs
from cnnlab.visualize.run_figures import write_figures

log = logging.getLogger(__name__)
CHILD_TIMEOUT_S = 120.0  # the longest the parent waits for the child after its own share


def can_fork() -> bool:
    """Whether a forked drawing child helps here: Linux, and at least two usable cores."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    return len(os.sched_getaffinity(0)) >= 2


class _Queue:
    """The model-free figures in table order, each taken by exactly one process: an index in
    shared memory, advanced under a lock (both made before the fork, so both processes see
    the same ones)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        context = multiprocessing.get_context("fork")
        self._next = context.RawValue("i", 0)
        self._lock = context.Lock()

    def take(self) -> str | None:
        """The next name nobody has taken, or None when all are taken."""
        with self._lock:
            index = self._next.value
            if index >= len(self.names):
                return None
            self._next.value = index + 1
        return self.names[index]

    def draw_until_empty(self, run_dir: Path, inputs: FigureInputs) -> list[Path]:
        """Take and draw names until none is left; the files written."""
        written: list[Path] = []
        while (name := self.take()) is not None:
            written += write_figures(run_dir, inputs, names=[name])
        return written


def _child(run_dir: Path, inputs: FigureInputs, queue: _Queue, pipe: int) -> None:
    """In the forked child: draw from `queue`, send the files written through `pipe`, exit."""
    code = 1
    try:
        torch.set_num_threads(1)
        written = queue.draw_until_empty(run_dir, inputs)
        payload = json.dumps([str(path) for path in written]).encode()
        with os.fdopen(pipe, "wb") as stream:
            stream.write(payload)
        code = 0
    except BaseException:  # noqa: BLE001 - the parent redraws whatever failed here
        code = 1
    finally:
        os._exit(code)  # no atexit handlers, no flushing of the parent's buffers


def _fork_child(run_dir: Path, inputs: FigureInputs, queue: _Queue) -> tuple[int, int]:
    """Start the drawing child; (its pid, the read end of its pipe)."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():  # Python >= 3.12 warns on fork() with threads alive
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(run_dir, inputs, queue, write_end)
    os.close(write_end)
    return pid, read_end


def _collect(pid: int, read_end: int, timeout_s: float) -> list[Path] | None:
    """Wait for the child (at most `timeout_s` once the parent is done; a child stuck on a
    lock some other thread held at the fork is killed); the files it wrote, or None when it
    failed or was killed."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    with os.fdopen(read_end, "rb", buffering=0) as stream:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([stream], [], [], max(left, 0))
            if not ready:  # timed out
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            chunk = stream.read(1 << 16)
            if not chunk:  # the child closed its end: done or dead
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    try:
        return [Path(path) for path in json.loads(b"".join(chunks))]
    except ValueError:
        return None


class FigureJob:
    """`names` drawn by a forked child from a shared queue, started now; `finish` has this
    process take what the child has not started, then waits for the child (redrawing here
    whatever it failed to write). Without fork, everything is drawn at `finish`."""

    def __init__(self, run_dir: Path, inputs: FigureInputs, names: list[str]) -> None:
        self.run_dir, self.inputs = Path(run_dir), inputs
        self.queue = _Queue(names)
        self.child: tuple[int, int] | None = None
        self.threads = torch.get_num_threads()
        if names and can_fork():
            self.child = _fork_child(self.run_dir, inputs, self.queue)
            # torch's thread pool waits on its slowest thread: with the child on a core,
            # two threads here run slower than one until the child is done
            torch.set_num_threads(1)

    def finish(self) -> list[Path]:
        """Help the child finish the queue, wait for it; every file written for `names`."""
        written = self.queue.draw_until_empty(self.run_dir, self.inputs)
        if self.child is None:
            return written
        from_child = _collect(*self.child, CHILD_TIMEOUT_S)
        self.child = None
        torch.set_num_threads(self.threads)
        if from_child is None:  # redraw the figures this process did not draw
            log.warning("the figure-drawing process failed or hung; drawing its figures here")
            mine = {path.stem for path in written}
            from_child = write_figures(
                self.run_dir,
                self.inputs,
                names=[name for name in self.queue.names if name not in mine],
            )
        return written + from_child

    def cancel(self) -> None:
        """Stop the child (the caller failed or was interrupted); nothing more is drawn."""
        if self.child is not None:
            pid, read_end = self.child
            self.child = None
            os.kill(pid, signal.SIGTERM)
            _collect(pid, read_end, CHILD_TIMEOUT_S)
            torch.set_num_threads(self.threads)


def drawable(names: Collection[str] | None = None) -> list[str]:
    """The table's figures drawn from a run's objects (of `names`, when given), in order."""
    return [
        name
        for name, entry in FIGURES.items()
        if entry.draw is not None and (names is None or name in names)
    ]


@contextmanager
def figures_alongside(
    run_dir: Path, inputs: FigureInputs, names: Collection[str] | None = None
) -> Iterator[list[Path]]:
    """Draw every figure of the run (of `names`, when given) while the body runs; the list
    it yields holds the files written once the block ends. The parent draws the model's
    figures on entry, before the body, and helps the child with the rest after it."""
    chosen = drawable(names)
    parent_names = [name for name in chosen if FIGURES[name].uses_model]
    job = FigureJob(run_dir, inputs, [name for name in chosen if name not in parent_names])
    written: list[Path] = []
    try:
        written += write_figures(Path(run_dir), inputs, names=parent_names)
        yield written
    except BaseException:
        job.cancel()
        raise
    written += job.finish()
