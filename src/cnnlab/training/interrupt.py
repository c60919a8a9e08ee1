"""Stop training cleanly on Ctrl-C (SIGINT) or SIGTERM: a handler sets a flag, the loop checks it.

The handlers exist only inside a `with stop_on_signals() as stop:` block and the previous
ones come back on exit, so nothing is left behind. The loop polls `stop.requested()` at batch
boundaries, so a signal never lands inside an optimizer step or a checkpoint write. A second
Ctrl-C while a stop is pending raises `KeyboardInterrupt` at once, the usual way out of a
stuck program. Python delivers signals to the main thread only; elsewhere (a notebook's
worker thread) no handler is installed and the flag simply never rises.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class StopRequest:
    """Whether, and by which signal, a clean stop was asked for."""

    signal_name: str | None = None  # "SIGINT" or "SIGTERM" once one arrived

    def requested(self) -> bool:
        """True once a stop signal arrived."""
        return self.signal_name is not None


@contextlib.contextmanager
def stop_on_signals(signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> Iterator[StopRequest]:
    """Within the block, `signals` set the returned request's flag instead of ending the program."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request  # signal.signal() works only in the main thread
        return

    def handle(signum: int, frame: object) -> None:
        if request.requested() and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without the clean save
        request.signal_name = signal.Signals(signum).name

    previous = {number: signal.signal(number, handle) for number in signals}
    try:
        yield request
    finally:
        for number, handler in previous.items():
            # None: the previous handler was not installed from Python; the default is closest
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
