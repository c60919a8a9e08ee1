"""TensorBoard logs of a run, in `<run>/tensorboard/` (the optional extra `cnnlab[tensorboard]`).

While training: per-iteration loss and learning rate, per-epoch train/val loss, accuracy
and macro F1 (fed by the loop's hooks). After evaluation and figures: the confusion matrix
and first-layer filter grid as images (the run's PNGs), and the hyperparameters with the
final metrics for TensorBoard's HParams tab. View with `tensorboard --logdir runs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cnnlab.errors import ConfigError
from cnnlab.runs import RunDir

INSTALL = "pip install cnnlab[tensorboard]"
ITERATION_SCALARS = (("loss/iteration", "loss"), ("lr/iteration", "lr"))  # (tag, row key)
EPOCH_SCALARS = (
    ("loss/train", "train_loss"),
    ("loss/val", "val_loss"),
    ("accuracy/train", "train_accuracy"),
    ("accuracy/val", "val_accuracy"),
    ("f1/train", "train_f1"),
    ("f1/val", "val_f1"),
    ("lr/epoch", "lr"),
)
HPARAM_SKIP = ("out", "name", "data.data_dir")  # where a run lives is not a hyperparameter
# metrics.json's test metrics shown in the HParams tab, as test_<key>
TEST_METRICS = ("accuracy", "f1_macro", "precision_macro", "recall_macro", "auc_macro", "auc_micro")


def summary_writer_class() -> type:
    """torch's `SummaryWriter`; a `ConfigError` naming the extra to install when it is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ConfigError(
            f"train.tensorboard: TensorBoard logging needs the tensorboard package, which is not "
            f"installed ({error}); install it with: {INSTALL}"
        ) from None
    return SummaryWriter


def require_tensorboard(enabled: bool) -> None:
    """Fail before a run starts when `train.tensorboard` is on but the package is missing."""
    if enabled:
        summary_writer_class()


def open_writer(run_dir: Path):
    """A `SummaryWriter` appending to the run's `tensorboard/` folder."""
    return summary_writer_class()(log_dir=str(RunDir(Path(run_dir)).tensorboard))


def log_iterations(writer, rows: Sequence[Mapping[str, Any]]) -> None:
    """Per-iteration loss and learning rate, at step = iteration."""
    for row in rows:
        for tag, key in ITERATION_SCALARS:
            if row.get(key) is not None:
                writer.add_scalar(tag, row[key], row["iteration"])


def log_epoch(writer, row: Mapping[str, Any]) -> None:
    """One finished epoch's train/val loss, accuracy, F1 and lr, at step = epoch; flushed."""
    for tag, key in EPOCH_SCALARS:
        if row.get(key) is not None:
            writer.add_scalar(tag, row[key], row["epoch"])
    writer.flush()  # a TensorBoard watching the run sees each epoch as it ends


def flat_hparams(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The config's leaves as `{"optim.lr": 0.001, ...}`; lists as text, unset (None) left out."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = prefix + str(key)
        if name in HPARAM_SKIP or value is None:
            continue
        if isinstance(value, Mapping):
            flat.update(flat_hparams(value, name + "."))
        elif isinstance(value, bool | int | float | str):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


def final_metrics(run_dir: Path) -> dict[str, float]:
    """`hparams/<name>` -> value: final_metrics.json's numbers and metrics.json's test metrics."""
    run = RunDir(Path(run_dir))
    test = run.read_test_metrics() or {}
    values = {**run.read_final(), **{f"test_{key}": test.get(key) for key in TEST_METRICS}}
    return {
        f"hparams/{key}": float(value)
        for key, value in values.items()
        if isinstance(value, int | float)
        and not isinstance(value, bool)
        and not key.endswith(("_eval_seconds", "_images"))  # bookkeeping, not results
    }


def log_final(run_dir: Path, images: Sequence[str]) -> list[str]:
    """The figures named `images` (figures/<name>.png) as images, and the hyperparameters with
    the final metrics; returns the tags written."""
    run = RunDir(Path(run_dir))
    step = int(run.read_status().get("epoch") or 0)
    written = []
    with open_writer(run.path) as writer:
        for tag in images:
            path = run.figures / f"{tag}.png"
            if path.is_file():  # fc_only has no filters, a run without test split no matrix
                with Image.open(path) as image:
                    pixels = np.asarray(image.convert("RGB"))  # (H, W, 3) uint8
                writer.add_image(tag, pixels, step, dataformats="HWC")
                written.append(tag)
        metrics = final_metrics(run.path)
        if metrics:
            hparams = flat_hparams(run.read_config_data())
            writer.add_hparams(hparams, metrics, run_name=".", global_step=step)
            written += list(metrics)
    return written
