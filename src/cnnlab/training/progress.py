"""Where training output goes, and the progress shown inside an epoch.

A terminal or a notebook gets a live bar (in a Jupyter kernel stderr is not a TTY, yet
tqdm.auto draws its widget there, so "is this a terminal?" alone would hide it). Output that
is neither (a pipe, a CI log, nohup) gets a plain line now and then instead, so a long epoch
is not silent until its end.
"""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

from cnnlab.training.metrics import RunningConfusion

LINE_SECONDS = 10.0  # piped output: at least this many seconds between two in-epoch lines,
LINE_FRACTION = 0.25  # and at least this fraction of the epoch's batches (the rarer wins)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (the same test tqdm.auto makes to pick its notebook bar)."""
    ipython = sys.modules.get("IPython")  # never imported here: a terminal run stays light
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def progress_mode(quiet: bool, stream: TextIO | None = None) -> str | None:
    """ "bar" in a terminal or a notebook, "lines" elsewhere (a pipe, a file), None when quiet."""
    if quiet:
        return None
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "bar" if bool(isatty and isatty()) or in_notebook() else "lines"


def _bar_class() -> type:
    """tqdm's notebook widget when it can be drawn (a Jupyter kernel with ipywidgets), else its
    text bar: tqdm.auto would warn "IProgress not found" in a notebook without ipywidgets."""
    if in_notebook():
        try:
            import ipywidgets  # noqa: F401 - only whether it is there
            from tqdm.notebook import tqdm as notebook_bar

            return notebook_bar
        except ImportError:
            pass
    from tqdm.std import tqdm as text_bar

    return text_bar


class EpochBar:
    """One epoch's live bar (tqdm), with the last flushed loss and the running accuracy."""

    def __init__(self, total: int, label: str) -> None:
        self.bar = _bar_class()(total=total, desc=label, leave=False, file=sys.stderr)

    def begin(self, done: int, running: RunningConfusion) -> None:
        if done:  # batches a stopped epoch had already trained
            self.bar.update(done)

    def advance(self, done: int, running: RunningConfusion) -> None:
        self.bar.update(1)

    def flushed(self, loss: float, running: RunningConfusion) -> None:
        self.bar.set_postfix(loss=f"{loss:.4f}", acc=f"{running.compute()['accuracy']:.3f}")

    def close(self) -> None:
        self.bar.close()


class EpochLines:
    """Plain lines inside one epoch, for output that is no terminal: batch i/n, the running
    loss and accuracy, images per second and the time left; at most one per `LINE_SECONDS`
    and per `LINE_FRACTION` of the epoch's batches (the rarer wins), none at its last batch
    (the epoch line follows)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label = total, label
        self.seconds = LINE_SECONDS
        self.every = max(1, math.ceil(total * LINE_FRACTION))  # batches between two lines

    def begin(self, done: int, running: RunningConfusion) -> None:
        self.started = self.last_time = time.perf_counter()
        self.first_batch, self.last_batch = done, done
        self.first_samples = running.samples

    def advance(self, done: int, running: RunningConfusion) -> None:
        now = time.perf_counter()
        if done >= self.total or done - self.last_batch < self.every:
            return
        if now - self.last_time < self.seconds:
            return
        self.last_batch, self.last_time = done, now
        metrics = running.compute()  # one device sync, a few times an epoch
        elapsed = now - self.started
        rate = (running.samples - self.first_samples) / max(elapsed, 1e-9)
        left = elapsed / (done - self.first_batch) * (self.total - done)
        print(
            f"{self.label}  batch {done}/{self.total}  loss {metrics['loss']:.4f}  "
            f"acc {metrics['accuracy']:.4f}  {rate:.0f} img/s  {elapsed:.1f}s, "
            f"about {left:.{0 if left >= 10 else 1}f}s left in the epoch",
            file=sys.stderr,
            flush=True,
        )

    def flushed(self, loss: float, running: RunningConfusion) -> None:
        pass  # a line shows the running loss when it is due

    def close(self) -> None:
        pass


PROGRESS = {"bar": EpochBar, "lines": EpochLines}  # mode -> one epoch's progress


def epoch_progress(
    mode: str | None, total: int, epoch: int, epochs: int
) -> EpochBar | EpochLines | None:
    """Progress of epoch `epoch` (1-based) of `epochs` over `total` batches (None: none shown)."""
    if mode is None:
        return None
    return PROGRESS[mode](total, f"epoch {epoch}/{epochs}")
