"""The on-disk forms a dataset's files come in: how each is recognised in a folder, and read.

A `FileForm` pairs a finder (a candidate path -> the files to read there, or None) with a
loader (those files -> `Dataset`). The entries of the dataset table (`catalog.DATASETS`)
list the forms their files may take; the readers themselves live in idx.py, cifar.py and
imagefolder.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cnnlab.data import cifar, idx
from cnnlab.data.arrays import DEFAULT_MAX_BYTES, Dataset
from cnnlab.errors import DataFormatError


@dataclass(frozen=True)
class LoadRequest:
    """What a loader is asked for: the dataset's name and classes, and how to decode images."""

    name: str | None  # the Dataset's name; None: taken from the files' path (image folders)
    class_names: tuple[str, ...] | None  # the classes the files must hold; None: any
    channels: int | None = None  # image folders: 1 or 3; None: from the images
    image_size: tuple[int, int] | None = None  # image folders: (H, W); None: the most common
    skip_bad: bool = False  # image folders: skip unreadable images instead of raising
    cache_dir: Path | None = None  # decoded image folders and inflated IDX files; None: nowhere
    max_bytes: int = DEFAULT_MAX_BYTES  # the decoded images, or any one inflated file, at most
    storage: str = "memory"  # image folders: memory, mmap or auto (data.storage)


Finder = Callable[[Path], Path | None]  # a candidate path -> the files to read there, or None
Loader = Callable[[Path, LoadRequest], Dataset]  # the files a finder returned -> Dataset


@dataclass(frozen=True)
class FileForm:
    """One on-disk form of a dataset: how its files are recognised, and how they are read."""

    name: str  # shown where a dataset was found: 'idx', 'cifar', 'imagefolder'
    find: Finder
    load: Loader
    folders: tuple[str, ...] = ()  # where under a data directory to look; (): the dataset's


def _idx_folder(directory: Path) -> Path | None:
    """`directory` when it, or its torchvision `raw/`, holds the four IDX files (gz or raw)."""
    return directory if idx.find_idx_files(directory) else None


def _load_idx(directory: Path, request: LoadRequest) -> Dataset:
    return idx.load_idx_dataset(
        directory, request.name, request.class_names, request.max_bytes, request.cache_dir
    )


def _load_cifar10(path: Path, request: LoadRequest) -> Dataset:
    return cifar.load_cifar10(path)


def _existing(path: Path) -> Path | None:
    return path if path.exists() else None


def _load_image_folder(path: Path, request: LoadRequest) -> Dataset:
    """Decode an image folder or archive; when classes are expected, its folders must match."""
    from cnnlab.data.imagefolder import load_imagefolder  # Pillow loads only when one is read

    dataset = load_imagefolder(
        path,
        channels=request.channels,
        size=request.image_size,
        cache_dir=request.cache_dir,
        skip_bad=request.skip_bad,
        name=request.name,
        max_bytes=request.max_bytes,
        storage=request.storage,
    )
    expected = request.class_names
    if expected is not None and tuple(dataset.class_names) != tuple(expected):
        raise DataFormatError(
            f"{path} was taken as {request.name!r} but its class folders are "
            f"{list(dataset.class_names)}; expected {list(expected)}"
        )
    return dataset


# Four MNIST-style IDX files, each gz or raw, in a folder or its torchvision raw/ folder.
IDX = FileForm("idx", _idx_folder, _load_idx)
# CIFAR-10 python or binary batches: a batch folder or official .tar.gz, or a folder holding one.
CIFAR10_BATCHES = FileForm("cifar", cifar.find_cifar10, _load_cifar10)
# JPEG/PNG/... images as <split>/<class>/<image> or <class>/<image>: a folder, .zip or .tar[.gz].
IMAGE_FOLDER = FileForm("imagefolder", _existing, _load_image_folder)
