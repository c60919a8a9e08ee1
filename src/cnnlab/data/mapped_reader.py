"""Batches of a memory-mapped split read ahead on threads, so disk reads overlap the step.

The reader only moves pixels: PREFETCH batches are read at once, each by its own thread (rows
in ascending order on disk, handed back in the batch's order), and handed to the consumer in
the batches' order. A split larger than memory is read at the disk's latency, page fault by
page fault; several reads in flight keep the disk busy while one batch alone would wait on it
(issue #24). Order and augmentation stay with the loader, on the caller's thread, so the
batches are the resident loader's, bit for bit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

import numpy as np
import torch

from cnnlab.data.mapped import MappedImages

PREFETCH = 4  # batches read at once: enough to keep the disk busy, few enough to bound RAM


class MappedReader:
    """Yields `images[rows]` for each `rows` of `batches` as a (B, C, H, W) uint8 tensor on
    `device`; use as a context manager so the reads stop when the consumer does."""

    def __init__(
        self, images: MappedImages, batches: list[np.ndarray], device: torch.device,
        prefetch: int = PREFETCH,
    ) -> None:  # fmt: skip
        self.images = images
        self.batches = batches
        self.device = device
        self.prefetch = max(1, prefetch)
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future] = deque()

    def _read(self, rows: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(self.images[rows])  # (B, C, H, W) uint8, read now
        # page-locked memory copies to the GPU asynchronously
        return tensor.pin_memory() if self.device.type == "cuda" else tensor

    def __enter__(self) -> MappedReader:
        self._pool = ThreadPoolExecutor(self.prefetch, thread_name_prefix="cnnlab-mapped-reader")
        return self

    def __iter__(self) -> Iterator[torch.Tensor]:
        if self._pool is None:
            raise RuntimeError("MappedReader is read inside a `with` block")
        upcoming = iter(self.batches)
        for rows in upcoming:  # the first reads, PREFETCH at most
            self._pending.append(self._pool.submit(self._read, rows))
            if len(self._pending) == self.prefetch:
                break
        while self._pending:
            tensor = self._pending.popleft().result()  # a read's error is raised here
            following = next(upcoming, None)
            if following is not None:
                self._pending.append(self._pool.submit(self._read, following))
            yield tensor.to(self.device, non_blocking=True)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
