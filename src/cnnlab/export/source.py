"""What an export starts from: a run's model as it evaluates, its properties and proof images.

The exported network is the run's `Classifier` (normalisation inside); when the run evaluates
with flip averaging (`model.tta_flip`) it is wrapped in `FlipAverage`, so the file answers as
`cnnlab eval` does. The proof images are the run's test split, or up to `TRAIN_PROOF` training
images when the run's data has no test split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

import cnnlab
from cnnlab.data import Dataset, Split
from cnnlab.errors import DataError
from cnnlab.export.metadata import ExportMetadata, metadata_props, read_metadata
from cnnlab.models.classifier import Classifier, predict_logits
from cnnlab.runs.load import LoadedRun, load_run

TRAIN_PROOF = 512  # training images the proof uses when a run has no test split


class FlipAverage(nn.Module):
    """A classifier answering with the mean logits of each image and its left-right mirror."""

    def __init__(self, classifier: Classifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, K)
        return predict_logits(self.classifier, x, tta_flip=True)


@dataclass(frozen=True)
class ProofImages:
    """The images every exported file is checked on, with their labels and where they came from."""

    images: np.ndarray  # (N, C, H, W) uint8 or float in [0, 1], as the split holds them
    labels: np.ndarray  # (N,)
    split: str  # "test", or "train" when the run's data has none
    note: str | None  # why the proof is not on the test split


@dataclass(frozen=True)
class ExportSource:
    """A loaded run ready to export: the network as it evaluates and the file properties."""

    loaded: LoadedRun
    network: nn.Module  # the Classifier, or FlipAverage around it; eval mode, contiguous CPU
    metadata: ExportMetadata

    @property
    def classifier(self) -> Classifier:
        return self.loaded.model

    @property
    def tta_flip(self) -> bool:
        return self.metadata.tta_flip


def load_source(run_dir: Path) -> ExportSource:
    """The run's best checkpoint, in fp32 on the CPU in the plain memory layout, and its metadata."""
    loaded = load_run(Path(run_dir), "best", device="cpu")
    model = loaded.model.to(memory_format=torch.contiguous_format).float().eval()
    tta_flip = bool(loaded.config.model.tta_flip)
    network = FlipAverage(model).eval() if tta_flip else model
    record = model.record()
    stats = loaded.run.read_input_stats()
    metadata = read_metadata(
        metadata_props(
            version=cnnlab.__version__,
            run=loaded.path.resolve().name,
            class_names=tuple(loaded.class_names),
            input_shape=tuple(model.in_shape),
            mean=tuple(record["mean"]),
            std=tuple(record["std"]),
            tta_flip=tta_flip,
            engine="torch",
            input_stats=stats,
        )
    )
    return ExportSource(loaded, network, metadata)


def proof_images(data: Dataset, in_shape: tuple[int, int, int], run: Path) -> ProofImages:
    """`data`'s test split; without one, its first `TRAIN_PROOF` training images."""
    test = data.splits.get("test")
    if test is not None and len(test):
        chosen, split, note = test, "test", None
    else:
        chosen, split = data.splits["train"], "train"
        chosen = Split(chosen.images[:TRAIN_PROOF], chosen.labels[:TRAIN_PROOF])
        note = f"run {run} has no test split: the proof uses {len(chosen)} training images"
    if chosen.image_shape != tuple(in_shape):
        raise DataError(
            f"run {run}: its {split} images have shape {chosen.image_shape} (C, H, W) but its "
            f"model takes {tuple(in_shape)}"
        )
    return ProofImages(chosen.images, chosen.labels, split, note)
