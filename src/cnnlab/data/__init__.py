"""Datasets: sources in their real formats, where they are found, subsets and batches.

`load_dataset(name)` is the one entry point from a name (`mnist`, `fashion-mnist`,
`cifar10`, `mnist-sample`, `imagefolder:PATH`) to a `Dataset` of uint8 arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cnnlab.data import cifar, idx
from cnnlab.data.arrays import Dataset, Split
from cnnlab.data.catalog import DATASETS, IMAGEFOLDER_PREFIX, dataset_info, dataset_shape
from cnnlab.data.locate import Found, cache_root, download, locate, not_found_error
from cnnlab.data.sample import SAMPLE_DIR
from cnnlab.errors import DataFormatError

__all__ = [
    "DATASETS",
    "Dataset",
    "Split",
    "dataset_info",
    "dataset_shape",
    "load_dataset",
    "find_dataset",
]

CLASS_NAMES = {
    "mnist": idx.MNIST_CLASSES,
    "mnist-sample": idx.MNIST_CLASSES,
    "fashion-mnist": idx.FASHION_MNIST_CLASSES,
    "cifar10": cifar.CIFAR10_CLASSES,
}


def find_dataset(
    name: str,
    *,
    data_dir: Path | None = None,
    offline: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Found:
    """Where dataset `name` is, downloading it into the cache if allowed and needed."""
    if name == "mnist-sample":
        return Found(SAMPLE_DIR, "idx")
    if name.startswith(IMAGEFOLDER_PREFIX):
        return Found(Path(name[len(IMAGEFOLDER_PREFIX) :]).expanduser(), "imagefolder")
    found = locate(name, data_dir=data_dir, environ=environ)
    if found is not None:
        return found
    if offline or not dataset_info(name).remote_files:
        raise not_found_error(name, data_dir, environ, offline)
    return download(name, environ=environ)


def load_dataset(
    name: str,
    *,
    data_dir: Path | None = None,
    offline: bool = False,
    environ: Mapping[str, str] | None = None,
    channels: int | None = None,
    image_size: tuple[int, int] | None = None,
    skip_bad: bool = False,
    use_cache: bool = True,
    seed: int = 0,
) -> Dataset:
    """Load dataset `name` as uint8 arrays, finding (or downloading) it first.

    `channels`, `image_size` and `skip_bad` apply to image folders; `seed` fixes the
    train/test split of a folder that has no split directories.
    """
    found = find_dataset(name, data_dir=data_dir, offline=offline, environ=environ)
    if found.form == "idx":
        return idx.load_idx_dataset(found.path, name, CLASS_NAMES[name])
    if found.form == "cifar":
        return cifar.load_cifar10(found.path)
    from cnnlab.data.imagefolder import load_imagefolder  # Pillow only when needed

    dataset = load_imagefolder(
        found.path,
        channels=channels,
        size=image_size,
        cache_dir=cache_root(environ) if use_cache else None,
        skip_bad=skip_bad,
        seed=seed,
        name=None if name.startswith(IMAGEFOLDER_PREFIX) else name,
    )
    expected = CLASS_NAMES.get(name)
    if expected is not None and tuple(dataset.class_names) != tuple(expected):
        raise DataFormatError(
            f"{found.path} was taken as {name!r} but its class folders are "
            f"{list(dataset.class_names)}; expected {list(expected)}"
        )
    return dataset
