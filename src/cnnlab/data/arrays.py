"""The in-memory form every data source produces: uint8 image arrays with integer labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from cnnlab.errors import DataFormatError

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """One split of a dataset: `images` (N, C, H, W) uint8 and `labels` (N,) int64."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != np.uint8:
            raise DataFormatError(
                f"images must be a (N, C, H, W) uint8 array, got shape {self.images.shape} "
                f"dtype {self.images.dtype}"
            )
        if self.labels.shape != (self.images.shape[0],):
            raise DataFormatError(
                f"labels must have shape ({self.images.shape[0]},) to match the images, "
                f"got {self.labels.shape}"
            )
        if self.labels.dtype != np.int64:
            object.__setattr__(self, "labels", self.labels.astype(np.int64))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        return tuple(int(d) for d in self.images.shape[1:])  # type: ignore[return-value]

    def take(self, indices: np.ndarray) -> Split:
        """The sub-split at `indices` (copies, so the parent array can be freed)."""
        return Split(self.images[indices], self.labels[indices])


@dataclass(frozen=True)
class Dataset:
    """A named dataset: class names and its splits ('train', optional 'val', 'test').

    `problems` lists items that could not be read and were skipped (file and reason), so a
    profile or report can say what was lost; `notes` says how its splits were made where the
    files did not say it (a held-out test split), for the log and the report.
    """

    name: str
    class_names: tuple[str, ...]
    splits: Mapping[str, Split]
    problems: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        unknown = set(self.splits) - set(SPLIT_NAMES)
        if unknown:
            raise DataFormatError(
                f"dataset {self.name!r}: unknown split(s) {sorted(unknown)}; "
                f"expected some of {list(SPLIT_NAMES)}"
            )
        num_classes = len(self.class_names)
        for split_name, split in self.splits.items():
            if len(split) and (split.labels.min() < 0 or split.labels.max() >= num_classes):
                raise DataFormatError(
                    f"dataset {self.name!r}, split {split_name!r}: labels range "
                    f"{split.labels.min()}..{split.labels.max()} but there are {num_classes} "
                    f"classes"
                )
        object.__setattr__(self, "splits", MappingProxyType(dict(self.splits)))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> Split:
        """The split called `name`, or a clear error listing the ones there are."""
        if name not in self.splits:
            raise DataFormatError(
                f"dataset {self.name!r} has no {name!r} split; it has {list(self.splits)}"
            )
        return self.splits[name]
