"""Where a named dataset is looked for, in order, and how a missing one is fetched.

Order: `--data-dir`, `$CNNLAB_DATA`, the cache directory (`$CNNLAB_CACHE`, default
`~/.cache/cnnlab`), system dataset directories (`/usr/share/datasets`), then a checksummed
download into the cache (never when offline). Environment variables are read here only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cnnlab.data.catalog import DATASETS, DatasetFormat, dataset_info
from cnnlab.data.download import download_file
from cnnlab.errors import DatasetNotFoundError

SYSTEM_DATA_DIRS = (Path("/usr/share/datasets"),)


@dataclass(frozen=True)
class Place:
    """A directory searched for datasets and why it is searched ('--data-dir', ...)."""

    origin: str
    path: Path


@dataclass(frozen=True)
class Found:
    """Where a dataset was found and in which of its file forms ('idx', 'cifar', 'imagefolder')."""

    path: Path
    form: str


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """The cache directory: `$CNNLAB_CACHE`, else `$XDG_CACHE_HOME/cnnlab`, else ~/.cache/cnnlab."""
    environ = os.environ if environ is None else environ
    if environ.get("CNNLAB_CACHE"):
        return Path(environ["CNNLAB_CACHE"]).expanduser()
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "cnnlab"


def search_places(
    data_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> list[Place]:
    """Every directory looked at for datasets, in order."""
    environ = os.environ if environ is None else environ
    places = []
    if data_dir is not None:
        places.append(Place("--data-dir", Path(data_dir).expanduser()))
    if environ.get("CNNLAB_DATA"):
        places.append(Place("$CNNLAB_DATA", Path(environ["CNNLAB_DATA"]).expanduser()))
    places.append(Place("cache", cache_root(environ)))
    places.extend(Place("system", path) for path in SYSTEM_DATA_DIRS)
    return places


def find_in(info: DatasetFormat, place: Path) -> Found | None:
    """The dataset `info` inside the data directory `place`: its forms in order, each looked
    for in its own folders or else the dataset's; None when none is there."""
    for form in info.forms:
        for folder in form.folders or info.folders:
            files = form.find(place / folder)
            if files is not None:
                return Found(files, form.name)
    return None


def locate(
    name: str,
    *,
    data_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    datasets: Mapping[str, DatasetFormat] = DATASETS,
) -> Found | None:
    """The first copy of dataset `name` (an entry of `datasets`) in the search places, or None."""
    info = dataset_info(name, datasets)
    for place in search_places(data_dir, environ):
        found = find_in(info, place.path)
        if found:
            return found
    return None


def download(
    name: str,
    *,
    environ: Mapping[str, str] | None = None,
    datasets: Mapping[str, DatasetFormat] = DATASETS,
    **download_options,
) -> Found:
    """Download dataset `name`'s official files into the cache and return where they are."""
    info = dataset_info(name, datasets)
    if not info.remote_files:
        raise DatasetNotFoundError(f"dataset {name!r} has no download; it ships with cnnlab")
    target = cache_root(environ) / info.folder
    for remote in info.remote_files:
        download_file(remote, target, **download_options)
    found = find_in(info, cache_root(environ))
    if found is None:  # the files are there and verified, so this is a bug in find_in
        raise DatasetNotFoundError(f"downloaded {name!r} into {target} but cannot read it back")
    return found


def not_found_error(
    name: str,
    data_dir: Path | None,
    environ: Mapping[str, str] | None,
    offline: bool,
    *,
    datasets: Mapping[str, DatasetFormat] = DATASETS,
) -> DatasetNotFoundError:
    """The error for a dataset found nowhere: every place looked at and how to get it.

    It lists the dataset's own folders; a form with folders of its own (CIFAR-10's JPEG copy)
    is looked for there too, but is not where the official files go, so it is not listed.
    """
    info = dataset_info(name, datasets)
    looked = [
        f"{place.origin}: {place.path / folder}"
        for place in search_places(data_dir, environ)
        for folder in info.folders
    ]
    lines = [f"dataset {name!r} was not found. Looked in:", *(f"  {line}" for line in looked)]
    if offline:
        lines.append("Downloads are off (--offline).")
    lines.append(
        f"To fetch it: `cnnlab data prepare {name}` (downloads into {cache_root(environ)}), "
        f"or put the files in <dir>/{info.folder}/ and pass --data-dir <dir> or set CNNLAB_DATA."
    )
    return DatasetNotFoundError("\n".join(lines))
