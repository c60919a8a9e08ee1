"""The run directory under torchrun: rank 0 writes it, the other ranks write nowhere that lasts.

Every rank runs the same experiment code (hooks, checkpoints, final metrics); ranks other
than 0 are given a private temporary directory in place of the run directory, removed when
the run ends, so only rank 0's files remain and no code path needs an `if rank == 0`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from cnnlab.errors import TrainingError
from cnnlab.runs import RunDir
from cnnlab.training.distributed import Topology
from cnnlab.training.optim import set_schedule_step


@contextmanager
def writable_run(topology: Topology, run: RunDir) -> Iterator[RunDir]:
    """`run` on rank 0; elsewhere a throwaway directory, deleted on exit."""
    if topology.is_main:
        yield run
        return
    folder = Path(tempfile.mkdtemp(prefix=f"cnnlab-rank{topology.rank}-"))
    try:
        yield RunDir(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def realign_schedule(
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    epochs_done: int,
    steps_per_epoch: int,
    saved_world_size: int,
    world_size: int,
    mid_epoch: bool,
) -> None:
    """After a resume under another world size, put the per-iteration schedule at the epoch boundary.

    The schedule counts iterations, and a rank's iterations per epoch shrink as ranks are
    added, so the saved step count is rescaled to `epochs_done` epochs of this world size.
    """
    if saved_world_size == world_size:
        return
    if mid_epoch:
        raise TrainingError(
            f"the checkpoint stopped mid-epoch under {saved_world_size} process(es); resume it "
            f"with the same number of processes, not {world_size}"
        )
    set_schedule_step(scheduler, epochs_done * steps_per_epoch)
