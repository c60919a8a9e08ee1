"""The in-memory form every data source produces: uint8 image arrays with integer labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from cnnlab.config.schema import DEFAULT_MAX_GIB
from cnnlab.data.mapped import MappedImages, take_rows
from cnnlab.errors import DataFormatError, DataTooLargeError

SPLIT_NAMES = ("train", "val", "test")
DEFAULT_MAX_BYTES = int(DEFAULT_MAX_GIB * 2**30)  # what a loader reads at most, unless told


def byte_size(count: float) -> str:
    """A size for people: "812 bytes", "4.2 MiB", "531.0 GiB"."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count:,.0f} bytes"


def check_within(what: str, need: int, max_bytes: int, other_fix: str = "") -> None:
    """Refuse, before any allocation, a load that would take more than `max_bytes`;
    `other_fix` is a remedy beside raising the limit, e.g. "lower data.image_size"."""
    if need > max_bytes:
        fixes = "raise data.max_gib if this machine has the memory" + (
            f", or {other_fix}" if other_fix else ""
        )
        raise DataTooLargeError(
            f"{what} would take {byte_size(need)}, beyond data.max_gib "
            f"({byte_size(max_bytes)}); refused before reading it ({fixes})"
        )


@dataclass(frozen=True)
class Split:
    """One split of a dataset: `images` (N, C, H, W) uint8 and `labels` (N,) int64; `images`
    is a `MappedImages` (rows of a file on disk) under `data.storage: mmap`."""

    images: np.ndarray | MappedImages
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

    @property
    def mapped(self) -> bool:
        """True when the images stay on disk (`data.storage: mmap`)."""
        return isinstance(self.images, MappedImages)

    def take(self, indices: np.ndarray) -> Split:
        """The sub-split at `indices` (copies in memory, so the parent array can be freed; a
        view of the same file when mapped)."""
        return Split(take_rows(self.images, indices), self.labels[indices])


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
