"""The datasets cnnlab knows by name: their shape, classes, files and official downloads."""

from __future__ import annotations

from dataclasses import dataclass

from cnnlab.errors import DataError

IMAGEFOLDER_PREFIX = "imagefolder:"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset's official distribution and its published checksum."""

    filename: str
    urls: tuple[str, ...]  # mirrors, tried in order
    md5: str  # of the file as downloaded


@dataclass(frozen=True)
class DatasetInfo:
    """What cnnlab knows about a named dataset before reading any of it."""

    name: str
    description: str
    image_shape: tuple[int, int, int]  # (C, H, W)
    num_classes: int
    train_size: int
    test_size: int
    folder: str  # where it lives under a data directory: <data_dir>/<folder>
    remote_files: tuple[RemoteFile, ...] = ()
    license: str = ""


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

DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        description="MNIST handwritten digits, 28x28 grayscale, 10 classes",
        image_shape=(1, 28, 28),
        num_classes=10,
        train_size=60_000,
        test_size=10_000,
        folder="mnist",
        remote_files=_mnist_like_files(
            _MNIST_URLS,
            {  # md5 of the .gz files as published
                "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
            },
        ),
        license="CC BY-SA 3.0 (LeCun, Cortes and Burges)",
    ),
    "fashion-mnist": DatasetInfo(
        name="fashion-mnist",
        description="Fashion-MNIST clothing images, 28x28 grayscale, 10 classes",
        image_shape=(1, 28, 28),
        num_classes=10,
        train_size=60_000,
        test_size=10_000,
        folder="fashion-mnist",
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
    "cifar10": DatasetInfo(
        name="cifar10",
        description="CIFAR-10 natural images, 32x32 RGB, 10 classes",
        image_shape=(3, 32, 32),
        num_classes=10,
        train_size=50_000,
        test_size=10_000,
        folder="cifar10",
        remote_files=(
            RemoteFile(
                "cifar-10-python.tar.gz",
                ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                "c58f30108f718f92721af3b95e74349a",
            ),
        ),
        license="CIFAR-10 (Krizhevsky, 2009)",
    ),
    "mnist-sample": DatasetInfo(
        name="mnist-sample",
        description="embedded MNIST sample: first 2,000 train and 500 test images (offline)",
        image_shape=(1, 28, 28),
        num_classes=10,
        train_size=2_000,
        test_size=500,
        folder="mnist-sample",
        license="CC BY-SA 3.0 (LeCun, Cortes and Burges)",
    ),
}


def dataset_info(name: str) -> DatasetInfo:
    """The catalog entry for `name`, or an error listing the names cnnlab knows."""
    if name in DATASETS:
        return DATASETS[name]
    if name.startswith(IMAGEFOLDER_PREFIX):
        raise DataError(
            f"{name!r} is an image folder: its shape and classes are known only after loading it"
        )
    known = ", ".join([*DATASETS, IMAGEFOLDER_PREFIX + "PATH"])
    raise DataError(f"unknown dataset {name!r}; known datasets: {known}")


def dataset_shape(name: str) -> tuple[tuple[int, int, int], int]:
    """(image shape (C, H, W), number of classes) of a named dataset, without loading it."""
    info = dataset_info(name)
    return info.image_shape, info.num_classes
