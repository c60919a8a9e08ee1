"""Datasets: sources in their real formats, where they are found, subsets and batches.

`load_dataset(name)` is the one entry point from a name (`mnist`, `fashion-mnist`,
`cifar10`, `mnist-sample`, `imagefolder:PATH`, or a bare folder or archive path) to a
`Dataset` of uint8 arrays. Every name
goes through one table, `DATASETS` (catalog.py): to add a dataset format, add an entry there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cnnlab.data.arrays import DEFAULT_MAX_BYTES, Dataset, Split, byte_size
from cnnlab.data.catalog import (
    DATASETS,
    IMAGEFOLDER_PREFIX,
    DatasetFormat,
    RemoteFile,
    dataset_info,
    dataset_shape,
    lookup,
)
from cnnlab.data.forms import FileForm, LoadRequest
from cnnlab.data.locate import Found, cache_root, download, locate, not_found_error
from cnnlab.errors import ConfigError, DataTooLargeError

__all__ = [
    "DATASETS",
    "IMAGEFOLDER_PREFIX",
    "Dataset",
    "DatasetFormat",
    "FileForm",
    "Found",
    "LoadRequest",
    "RemoteFile",
    "Split",
    "dataset_info",
    "dataset_shape",
    "load_dataset",
    "find_dataset",
]


def find_dataset(
    name: str,
    *,
    data_dir: Path | None = None,
    offline: bool = False,
    environ: Mapping[str, str] | None = None,
    datasets: Mapping[str, DatasetFormat] = DATASETS,
) -> Found:
    """Where dataset `name` is, downloading it into the cache if allowed and needed.

    `datasets` is the table the name is looked up in (a copy with more entries, say).
    """
    info, path = lookup(name, datasets)
    fixed = path if path is not None else info.home
    if fixed is not None:  # not searched: its loader says what is wrong with the files there
        return Found(fixed, info.forms[0].name)
    found = locate(name, data_dir=data_dir, environ=environ, datasets=datasets)
    if found is not None:
        return found
    if offline or not info.remote_files:
        raise not_found_error(name, data_dir, environ, offline, datasets=datasets)
    return download(name, environ=environ, datasets=datasets)


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
    max_bytes: int = DEFAULT_MAX_BYTES,
    datasets: Mapping[str, DatasetFormat] = DATASETS,
    storage: str = "memory",
) -> Dataset:
    """Load dataset `name` as uint8 arrays, finding (or downloading) it first.

    `channels`, `image_size`, `skip_bad` and `storage` (memory, mmap, auto) apply to image
    folders (one without split folders is all `train`); `max_bytes` bounds the decoded images
    held in memory and any one file inflated to read them. `datasets` is the table the name
    is looked up in. Running out of memory while reading is a DataTooLargeError.
    """
    info, path = lookup(name, datasets)
    found = find_dataset(
        name, data_dir=data_dir, offline=offline, environ=environ, datasets=datasets
    )
    if storage == "mmap" and found.form != "imagefolder":
        raise ConfigError(
            f"data.storage mmap: dataset {name!r} is read from {found.form} files, which load "
            f"into memory; only image folders can be memory-mapped (use data.storage auto)"
        )
    request = LoadRequest(
        name=None if path is not None else name,  # `key:PATH`: named after the path
        class_names=info.class_names,
        channels=channels,
        image_size=image_size,
        skip_bad=skip_bad,
        cache_dir=cache_root(environ) if use_cache else None,
        max_bytes=max_bytes,
        storage=storage,
    )
    try:
        return info.form(found.form).load(found.path, request)
    except MemoryError as error:  # NumPy's says what it asked for: "Unable to allocate ..."
        raise DataTooLargeError(
            f"out of memory reading dataset {name!r} from {found.path}: "
            f"{str(error) or 'an allocation failed'}; this machine has less free memory than "
            f"data.max_gib ({byte_size(max_bytes)}) allows: lower data.image_size, or "
            f"data.max_gib to what is free"
        ) from error
