"""The table of dataset formats cnnlab knows by name: their files, classes, shape and download.

To add a dataset format, add an entry to `DATASETS` below; nothing else needs to change.

A name is a table key (`mnist`), for an entry that `takes_path` `key:PATH`
(`imagefolder:~/pets`), or else an existing path (`my-photos.zip`, `pets/`), read exactly as
`imagefolder:PATH`. Everything else in cnnlab.data (finding, downloading, loading, the
not-found error, `cnnlab data list`) reads these entries and knows no dataset by name.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cnnlab.data import idx
from cnnlab.data.archive import ARCHIVE_SUFFIXES
from cnnlab.data.cifar import CIFAR10_CLASSES
from cnnlab.data.forms import CIFAR10_BATCHES, IDX, IMAGE_FOLDER, FileForm
from cnnlab.data.sample import SAMPLE_DIR
from cnnlab.errors import DataError, DatasetNotFoundError

PATH_SEPARATOR = ":"  # between an entry's name and the path it reads: imagefolder:PATH
PATH_DATASET = "imagefolder"  # the entry a bare path (a folder or an archive) is read as
IMAGEFOLDER_PREFIX = PATH_DATASET + PATH_SEPARATOR


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset's official distribution and its published checksum."""

    filename: str
    urls: tuple[str, ...]  # mirrors, tried in order
    md5: str  # of the file as downloaded


@dataclass(frozen=True)
class DatasetFormat:
    """One dataset cnnlab knows by name: the forms its files take, where they are looked for,
    what they hold, and how they are downloaded.

    Where the files are comes from exactly one of: `folders` (searched under every data
    directory), `home` (shipped with cnnlab) or `takes_path` (the name says `name:PATH`).
    """

    name: str
    description: str
    forms: tuple[FileForm, ...]  # the forms its files may take, tried in this order
    class_names: tuple[str, ...] | None  # None: read from the files
    image_shape: tuple[int, int, int] | None  # (C, H, W); None: known only after loading
    train_size: int | None = None  # images, as published; None: known only after loading
    test_size: int | None = None
    folders: tuple[str, ...] = ()  # under each data directory, in order; [0] gets downloads
    home: Path | None = None  # shipped with cnnlab: read from here, never searched
    takes_path: bool = False  # named `name:PATH` and read from PATH
    remote_files: tuple[RemoteFile, ...] = ()  # the official download; (): none
    license: str = ""

    def __post_init__(self) -> None:
        places = [bool(self.folders), self.home is not None, self.takes_path]
        if not self.forms or sum(places) != 1:
            raise DataError(
                f"dataset format {self.name!r} needs at least one file form and exactly one "
                f"of folders, home or takes_path; got {len(self.forms)} form(s) and "
                f"folders={self.folders!r}, home={self.home!r}, takes_path={self.takes_path}"
            )

    @property
    def num_classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)

    @property
    def folder(self) -> str:
        """Where it belongs under a data directory: <data_dir>/<folder>."""
        return self.folders[0] if self.folders else self.name

    @property
    def display_name(self) -> str:
        """The name as a user types it: `mnist`, or `imagefolder:PATH`."""
        return f"{self.name}{PATH_SEPARATOR}PATH" if self.takes_path else self.name

    def form(self, name: str) -> FileForm:
        """The form called `name` ('idx', 'cifar', ...) among this dataset's forms."""
        for form in self.forms:
            if form.name == name:
                return form
        known = [form.name for form in self.forms]
        raise DataError(f"dataset {self.name!r} is never read as {name!r} files; only as {known}")


DatasetInfo = DatasetFormat  # the name this class had before the table held finders and loaders


def _mnist_like_files(base_urls: tuple[str, ...], md5s: dict[str, str]) -> tuple[RemoteFile, ...]:
    return tuple(
        RemoteFile(f"{stem}.gz", tuple(f"{base}{stem}.gz" for base in base_urls), md5)
        for stem, md5 in md5s.items()
    )


_MNIST_URLS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_FASHION_URLS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_MNIST_LICENSE = "CC BY-SA 3.0 (LeCun, Cortes and Burges)"

# To add a dataset format, add an entry here: its file forms (forms.py has IDX, CIFAR-10
# batches and image folders; a new one is a `FileForm(name, find, load)`), where its files
# are looked for, its classes and shape, and its download. Nothing else names datasets.
DATASETS: dict[str, DatasetFormat] = {
    "mnist": DatasetFormat(
        name="mnist",
        description="MNIST handwritten digits, 28x28 grayscale, 10 classes",
        forms=(IDX,),
        class_names=idx.MNIST_CLASSES,
        image_shape=(1, 28, 28),
        train_size=60_000,
        test_size=10_000,
        folders=("mnist", "MNIST", "MNIST/raw"),  # ours, then torchvision's layout
        remote_files=_mnist_like_files(
            _MNIST_URLS,
            {  # md5 of the .gz files as published
                "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
            },
        ),
        license=_MNIST_LICENSE,
    ),
    "fashion-mnist": DatasetFormat(
        name="fashion-mnist",
        description="Fashion-MNIST clothing images, 28x28 grayscale, 10 classes",
        forms=(IDX,),
        class_names=idx.FASHION_MNIST_CLASSES,
        image_shape=(1, 28, 28),
        train_size=60_000,
        test_size=10_000,
        folders=("fashion-mnist", "fashion_mnist", "FashionMNIST", "FashionMNIST/raw"),
        remote_files=_mnist_like_files(
            _FASHION_URLS,
            {
                "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
            },
        ),
        license="MIT (Zalando Research)",
    ),
    "cifar10": DatasetFormat(
        name="cifar10",
        description="CIFAR-10 natural images, 32x32 RGB, 10 classes",
        forms=(
            CIFAR10_BATCHES,
            # a JPEG copy in ImageFolder layout, looked for only after the batches
            dataclasses.replace(
                IMAGE_FOLDER,
                folders=("cifar10-jpg", "cifar10-jpg.tar.gz", "cifar10-jpg.tar", "cifar10-jpg.zip"),
            ),
        ),
        class_names=CIFAR10_CLASSES,
        image_shape=(3, 32, 32),
        train_size=50_000,
        test_size=10_000,
        folders=("cifar10", "cifar-10", "CIFAR10", "."),  # ".": the batches right in the dir
        remote_files=(
            RemoteFile(
                "cifar-10-python.tar.gz",
                ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                "c58f30108f718f92721af3b95e74349a",
            ),
        ),
        license="CIFAR-10 (Krizhevsky, 2009)",
    ),
    "mnist-sample": DatasetFormat(
        name="mnist-sample",
        description="embedded MNIST sample: first 2,000 train and 500 test images (offline)",
        forms=(IDX,),
        class_names=idx.MNIST_CLASSES,
        image_shape=(1, 28, 28),
        train_size=2_000,
        test_size=500,
        home=SAMPLE_DIR,
        license=_MNIST_LICENSE,
    ),
    "imagefolder": DatasetFormat(
        name="imagefolder",
        description="any folder, .zip or .tar[.gz] of <split>/<class>/<image> or <class>/<image>"
        " (or just its PATH)",
        forms=(IMAGE_FOLDER,),
        class_names=None,
        image_shape=None,
        takes_path=True,
    ),
}


def looks_like_path(name: str) -> bool:
    """Whether `name` reads as a path rather than a dataset name: it has a path separator, a
    leading `~` or `.`, or ends in an archive suffix."""
    separators = {"/", os.sep, os.altsep or "/"}
    return (
        any(sep in name for sep in separators)
        or name.startswith(("~", "."))
        or name.lower().endswith(ARCHIVE_SUFFIXES)
    )


def lookup(
    name: str, datasets: Mapping[str, DatasetFormat] = DATASETS
) -> tuple[DatasetFormat, Path | None]:
    """The entry `name` refers to in `datasets` and, for `key:PATH` or a bare path, the path.

    A table name (`mnist`, `imagefolder:PATH`) wins; any other name that is an existing path
    (a folder, .zip, .tar...) is read as `imagefolder:PATH` (`./mnist` reads the folder).
    Anything else is an error listing the names there are and saying a path works too.
    """
    key, separator, path = name.partition(PATH_SEPARATOR)
    info = datasets.get(key)
    if info is not None and info.takes_path == bool(separator):
        return info, Path(path).expanduser() if separator else None
    bare = Path(name).expanduser()
    if PATH_DATASET in datasets and name.strip() and bare.exists():
        return datasets[PATH_DATASET], bare
    raise _unknown_name(name, bare, datasets)


def _unknown_name(name: str, bare: Path, datasets: Mapping[str, DatasetFormat]) -> DataError:
    """The error for a name that is neither in `datasets` nor an existing path."""
    known = ", ".join(entry.display_name for entry in datasets.values())
    if PATH_DATASET not in datasets:
        return DataError(f"unknown dataset {name!r}; known datasets: {known}")
    paths = (
        f"a path to an image folder or an archive ({', '.join(ARCHIVE_SUFFIXES[:4])}, ...) "
        f"works as well, alone or as {IMAGEFOLDER_PREFIX}PATH"
    )
    if name.strip() and looks_like_path(name):
        where = "" if bare.is_absolute() else f" (relative to {Path.cwd()})"
        return DatasetNotFoundError(
            f"dataset {name!r}: the path {bare}{where} does not exist; {paths}; "
            f"known datasets: {known}"
        )
    return DataError(f"unknown dataset {name!r}; known datasets: {known}; {paths}")


def dataset_info(name: str, datasets: Mapping[str, DatasetFormat] = DATASETS) -> DatasetFormat:
    """The entry of a dataset known by name (not `key:PATH`), or an error saying why not."""
    info, path = lookup(name, datasets)
    if path is not None:
        raise DataError(
            f"{name!r} is read from {path}: its shape and classes are known only after loading it"
        )
    return info


def dataset_shape(
    name: str, datasets: Mapping[str, DatasetFormat] = DATASETS
) -> tuple[tuple[int, int, int], int]:
    """(image shape (C, H, W), number of classes) of a named dataset, without loading it."""
    info = dataset_info(name, datasets)
    return info.image_shape, info.num_classes
