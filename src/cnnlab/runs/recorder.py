"""What a training engine tells its run directory, the same for the PyTorch and NumPy engines.

The engine reports each finished epoch and how the run ended; the recorder turns that into
status.json, metrics.csv, iterations.csv and train.log lines (echoed to the console unless
quiet). Checkpoints are the engine's own (.pt or .npz).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cnnlab.data import Dataset
from cnnlab.errors import TrainingError
from cnnlab.runs.readme import refresh_readme
from cnnlab.runs.rundir import RunDir


def format_epoch(row: dict[str, Any], epochs: int) -> str:
    """One readable line per epoch for the log and the console."""
    text = (
        f"epoch {row['epoch']:>3}/{epochs}  train loss {row['train_loss']:.4f}  "
        f"acc {row['train_accuracy']:.4f}  f1 {row['train_f1']:.4f}"
    )
    if row.get("val_loss") is not None:
        text += (
            f"  |  val loss {row['val_loss']:.4f}  acc {row['val_accuracy']:.4f}  "
            f"f1 {row['val_f1']:.4f}"
        )
    if row.get("test_accuracy") is not None:
        text += f"  |  test acc {row['test_accuracy']:.4f}"
    return text + f"  |  lr {row['lr']:.3g}  {row['epoch_seconds']:.1f}s"


@dataclass(frozen=True)
class Recorder:
    """Writes one run's records as its engine trains."""

    run: RunDir
    epochs: int  # planned epochs, for "epoch 3/10"
    quiet: bool = False

    def started(self) -> None:
        """A new run: status `running` at epoch 0, and its README."""
        self.run.write_status("running", epoch=0, epochs=self.epochs)
        refresh_readme(self.run)

    def say(self, line: str) -> None:
        """A line into train.log and, unless quiet, onto the console (stderr)."""
        self.run.log(line)
        if not self.quiet:
            print(line, file=sys.stderr, flush=True)

    def data(self, dataset: Dataset) -> None:
        """The data a run trains on: its splits and classes logged; how a held-out test split
        was made, and which unreadable images were skipped, said on the console too."""
        sizes = ", ".join(f"{name} {len(part)}" for name, part in dataset.splits.items())
        mapped = any(getattr(part, "mapped", False) for part in dataset.splits.values())
        storage = "memory-mapped from the disk cache" if mapped else "in memory"
        self.run.log(f"data: {sizes}; classes {list(dataset.class_names)}; images {storage}")
        for note in dataset.notes:
            self.say(note)
        if dataset.problems:
            shown = "; ".join(dataset.problems[:3])
            more = f"; and {len(dataset.problems) - 3} more" if len(dataset.problems) > 3 else ""
            self.say(
                f"{dataset.name}: skipped {len(dataset.problems)} unreadable image(s) "
                f"(data.skip_bad), listed in the report's dataset profile: {shown}{more}"
            )

    def epoch(
        self,
        row: dict[str, Any],
        improved: bool,
        epochs: Sequence[dict[str, Any]],
        iterations: Sequence[dict[str, Any]],
    ) -> None:
        """A finished epoch: the tables rewritten, its line logged, the status advanced."""
        self.run.write_epochs(epochs)
        self.run.write_iterations(iterations)
        self.say(format_epoch(row, self.epochs) + ("  *" if improved else ""))
        self.run.write_status("running", epoch=row["epoch"], epochs=self.epochs)

    def trained(
        self, status: str, epochs: int, best_epoch: int | None, monitor: str, seconds: float
    ) -> None:
        """Training ended normally (`finished` or `early_stopped`)."""
        self.run.log(f"best epoch {best_epoch} by {monitor}; training took {seconds:.1f}s")
        self.run.write_status(status, epoch=epochs, best_epoch=best_epoch)
        refresh_readme(self.run)

    def diverged(
        self, iterations: Sequence[dict[str, Any]], epoch: int, lr: float
    ) -> TrainingError:
        """Mark the run diverged; the error to raise says where and what to try."""
        iteration = iterations[-1]["iteration"] if iterations else 0
        self.run.write_iterations(iterations)
        self.run.write_status("diverged", epoch=epoch, iteration=iteration)
        refresh_readme(self.run)
        self.run.log(
            f"diverged: the loss became NaN, infinite or exploded near iteration {iteration}; stopped"
        )
        return TrainingError(
            f"run {self.run.path} diverged: the loss became NaN, infinite or exploded near "
            f"iteration {iteration} (epoch {epoch}); try a lower learning rate (optim.lr={lr})"
        )

    def failed(self, reason: str, epoch: int = 0) -> None:
        """Mark the run failed with its reason (the last checkpoint, if any, stays)."""
        self.run.write_status("failed", reason=reason, epoch=epoch)
        self.run.log(f"failed: {reason}")
        refresh_readme(self.run)

    @contextlib.contextmanager
    def setting_up(self) -> Iterator[None]:
        """Around the work before the first step (data, model, download): a failure there is
        marked in status.json (`failed`, with the reason), a Ctrl-C as `interrupted`."""
        try:
            yield
        except KeyboardInterrupt:
            self.interrupted(0)
            raise
        except Exception as error:
            self.failed(f"set-up failed: {' '.join(str(error).split()) or type(error).__name__}")
            raise

    def interrupted(self, epoch: int) -> None:
        """A hard stop: back to the last saved epoch."""
        self.run.write_status("interrupted", epoch=epoch)
        refresh_readme(self.run)
        self.run.log(
            f"interrupted after epoch {epoch}; resume with: cnnlab train --resume {self.run.path}"
        )
