"""How a run that cannot go on is recorded: stopped by a signal, or out of memory.

Either way the run directory says what happened (status.json, train.log) and the last
checkpoint stays loadable, so `cnnlab train --resume RUN` can continue it.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import torch

from cnnlab.errors import CnnlabError, TrainingError
from cnnlab.runs import Recorder, RunDir
from cnnlab.runs.readme import refresh_readme
from cnnlab.training.loop import History


def save_interrupted(
    run: RunDir, checkpoint: dict[str, Any], history: History, batches: int, signal_name: str | None
) -> None:
    """Save the state a signal stopped the loop in, mark the run interrupted, say how to resume.

    `batches` is the number of batches per epoch, only for the message.
    """
    run.save_checkpoint("last", checkpoint)
    run.write_iterations(history.iterations)
    done = len(history.epochs)
    batch = history.partial_epoch["batch"] if history.partial_epoch else 0
    where = f"epoch {done + 1}, batch {batch}/{batches}" if batch else f"after epoch {done}"
    run.write_status("interrupted", epoch=done, batch=batch, signal=signal_name)
    refresh_readme(run)
    message = (
        f"interrupted by {signal_name} in {where}; saved {run.last_checkpoint}; "
        f"resume with: cnnlab train --resume {run.path}"
    )
    run.log(message)
    print(message, file=sys.stderr, flush=True)


def is_out_of_memory(error: BaseException) -> bool:
    """True for a device or host allocation failure (CUDA, MPS or CPU)."""
    text = str(error)
    return isinstance(error, torch.cuda.OutOfMemoryError) or (
        "out of memory" in text or "can't allocate memory" in text
    )


def fail_out_of_memory(
    run: RunDir, history: History, error: BaseException, batch_size: int, device: torch.device
) -> NoReturn:
    """Mark the run failed for lack of memory and raise a `TrainingError` saying what to change."""
    text = str(error).strip()
    first_line = text.splitlines()[0] if text else type(error).__name__
    reason = (
        f"out of memory in epoch {len(history.epochs) + 1} with train.batch_size={batch_size} "
        f"on {device}: {first_line}"
    )
    run.write_status("failed", reason=reason, epoch=len(history.epochs))
    run.log(f"failed: {reason}")
    refresh_readme(run)
    raise TrainingError(
        f"run {run.path} {reason}; try a smaller train.batch_size; the last checkpoint is "
        f"intact (resume with: cnnlab train --resume {run.path})"
    ) from error


def mark_failed(recorder: Recorder, reason: str, epoch: int) -> None:
    """Mark the run failed with `reason`, if the disk still takes the few bytes that needs."""
    text = " ".join(reason.split()) + f"; resume with: cnnlab train --resume {recorder.run.path}"
    try:
        recorder.failed(text, epoch)
    except (CnnlabError, OSError):  # the full disk refused a new file: reuse status.json's
        try:
            recorder.run.overwrite_status("failed", reason=text, epoch=epoch)
        except OSError:
            pass  # nothing more can be written; the error itself still reaches the user
