"""Batches of a memory-mapped split read ahead on a thread, so disk reads overlap the step.

The reader only moves pixels: it reads each batch's rows (in ascending order on disk, handed
back in the batch's order) while the training step runs, PREFETCH batches ahead at most.
Order and augmentation stay with the loader, on the caller's thread, so the batches are the
resident loader's, bit for bit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from types import TracebackType

import numpy as np
import torch

from cnnlab.data.mapped import MappedImages

PREFETCH = 3  # batches read ahead: enough to hide a read behind a step, few enough to bound RAM
_POLL_SECONDS = 0.1  # how often a blocked reader checks whether the consumer has stopped


class MappedReader:
    """Yields `images[rows]` for each `rows` of `batches` as a (B, C, H, W) uint8 tensor on
    `device`; use as a context manager so the thread stops when the consumer does."""

    def __init__(
        self, images: MappedImages, batches: list[np.ndarray], device: torch.device,
        prefetch: int = PREFETCH,
    ) -> None:  # fmt: skip
        self.images = images
        self.batches = batches
        self.device = device
        self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="cnnlab-mapped-reader", daemon=True)

    def _put(self, item: tuple[str, object]) -> bool:
        """Queue `item`, waiting for room; False when the consumer stopped meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        pin = self.device.type == "cuda"  # page-locked memory copies to the GPU asynchronously
        try:
            for rows in self.batches:
                tensor = torch.from_numpy(self.images[rows])  # (B, C, H, W) uint8, read now
                if not self._put(("batch", tensor.pin_memory() if pin else tensor)):
                    return
            self._put(("end", None))
        except BaseException as error:  # handed to the consumer, raised on its thread
            self._put(("error", error))

    def __enter__(self) -> MappedReader:
        self._thread.start()
        return self

    def __iter__(self) -> Iterator[torch.Tensor]:
        while True:
            kind, value = self._queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value.to(self.device, non_blocking=True)  # type: ignore[union-attr]

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
