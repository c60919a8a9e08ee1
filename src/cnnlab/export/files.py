"""What every format shares: the example input, proof batches and a quiet exporter."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

import numpy as np
import torch

BATCH = 256  # proof images per forward pass of an exported file
EXAMPLE_BATCH = 2  # the traced example's batch; 1 would let an exporter fix the batch to 1
QUIET_LOGGERS = ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "root")


def example_input(input_shape: tuple[int, int, int]) -> torch.Tensor:
    """A seeded (2, C, H, W) batch in [0, 1] to trace with (its values do not matter)."""
    generator = torch.Generator().manual_seed(0)
    return torch.rand(EXAMPLE_BATCH, *input_shape, generator=generator)


def unit_batches(images: np.ndarray) -> Iterator[np.ndarray]:
    """float32 batches in [0, 1] (what an exported model takes) of uint8 or float images."""
    for start in range(0, len(images), BATCH):
        batch = images[start : start + BATCH]
        if batch.dtype == np.uint8:
            yield np.ascontiguousarray(batch, dtype=np.float32) / np.float32(255)
        else:
            yield np.ascontiguousarray(batch, dtype=np.float32)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Exporters' progress prints, warnings and log lines kept off the console."""
    levels = {name: logging.getLogger(name if name != "root" else None) for name in QUIET_LOGGERS}
    saved = {name: logger.level for name, logger in levels.items()}
    try:
        for logger in levels.values():
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, logger in levels.items():
            logger.setLevel(saved[name])
