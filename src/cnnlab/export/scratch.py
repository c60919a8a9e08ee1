"""A NumPy `cnnlab scratch` run (`best.npz`, no `best.pt`): ONNX only, through `scratch_onnx`.

`scratch_onnx` writes the NumPy network as an ONNX graph (`export_scratch_onnx`) and runs the
NumPy forward pass (`scratch_forward`, the proof's reference). A cnnlab without that module
refuses scratch runs with the reason.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import numpy as np

import cnnlab
from cnnlab.config import ExperimentConfig
from cnnlab.errors import ExportError
from cnnlab.export.metadata import metadata_props, read_metadata
from cnnlab.runs.rundir import RunDir
from cnnlab.scratch.npz import load_arrays

SCRATCH_ONNX = "cnnlab.export.scratch_onnx"


def is_scratch_run(run: RunDir) -> bool:
    """A run of the NumPy engine: NumPy weights and no torch checkpoint."""
    return run.best_npz.is_file() and not run.best_checkpoint.is_file()


def scratch_exporter(run: RunDir, formats: tuple[str, ...]) -> ModuleType:
    """The module that exports NumPy networks, for `formats` (ONNX only), or the reason not."""
    others = [name for name in formats if name != "onnx"]
    if others:
        raise ExportError(
            f"run {run.path} is a NumPy scratch run (best.npz): it exports to onnx only, not "
            f"{', '.join(others)}; use --format onnx"
        )
    try:
        return importlib.import_module(SCRATCH_ONNX)
    except ModuleNotFoundError as error:
        if error.name != SCRATCH_ONNX:
            raise
        raise ExportError(
            f"run {run.path} is a NumPy scratch run (best.npz), and this cnnlab cannot export "
            f"NumPy networks yet ({SCRATCH_ONNX} is missing); export a run of cnnlab train"
        ) from None


def scratch_metadata(run: RunDir, config: ExperimentConfig, in_shape: tuple[int, int, int]):
    """The properties of a scratch run's export, from its best.npz and input_stats.json."""
    arrays = load_arrays(run.best_npz)
    missing = [k for k in ("class_names", "input.mean", "input.std") if k not in arrays]
    if missing:
        raise ExportError(f"{run.best_npz} lacks {', '.join(missing)}: not a cnnlab scratch run")
    stats = run.read_input_stats()
    return read_metadata(
        metadata_props(
            version=cnnlab.__version__,
            run=run.path.resolve().name,
            class_names=tuple(str(name) for name in arrays["class_names"]),
            input_shape=in_shape,
            mean=tuple(float(v) for v in np.ravel(arrays["input.mean"])),
            std=tuple(float(v) for v in np.ravel(arrays["input.std"])),
            tta_flip=bool(config.model.tta_flip),
            engine="numpy",
            input_stats=stats,
        )
    )


def scratch_logits(module: ModuleType, run: RunDir, images: np.ndarray) -> np.ndarray:
    """The NumPy forward pass's logits (N, K) for uint8 images (N, C, H, W)."""
    return np.asarray(module.scratch_forward(Path(run.path), images))
