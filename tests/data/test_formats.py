"""The table of dataset formats: a new format is one entry, read through the built-ins' path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.data import (
    DATASETS,
    Dataset,
    DatasetFormat,
    FileForm,
    LoadRequest,
    RemoteFile,
    Split,
    dataset_shape,
    find_dataset,
    load_dataset,
)
from cnnlab.data.catalog import lookup
from cnnlab.data.cifar import CIFAR10_CLASSES
from cnnlab.data.download import file_digest
from cnnlab.data.locate import locate
from cnnlab.errors import DataError, DataFormatError, DatasetNotFoundError


def find_npz(directory: Path) -> Path | None:
    path = directory / "toy.npz"
    return path if path.is_file() else None


def load_npz(path: Path, request: LoadRequest) -> Dataset:
    with np.load(path) as arrays:
        splits = {s: Split(arrays[f"{s}_images"], arrays[f"{s}_labels"]) for s in ("train", "test")}
    return Dataset(request.name, request.class_names, splits)


# A format cnnlab has never heard of: one entry, built here and never put in DATASETS.
TOY = DatasetFormat(
    name="toy",
    description="a toy format: toy.npz holding {train,test}_{images,labels}",
    forms=(FileForm("npz", find_npz, load_npz),),
    class_names=("a", "b"),
    image_shape=(1, 4, 4),
    train_size=6,
    test_size=2,
    folders=("toy", "TOY"),
)
TABLE = {**DATASETS, TOY.name: TOY}  # a copy: the built-ins plus one entry


def write_toy(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (6, 1, 4, 4), dtype=np.uint8),
        "train_labels": rng.integers(0, 2, 6),
        "test_images": rng.integers(0, 256, (2, 1, 4, 4), dtype=np.uint8),
        "test_labels": rng.integers(0, 2, 2),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)
    return arrays


def test_a_new_format_is_one_entry_and_loads_like_the_builtins(tmp_path):
    arrays = write_toy(tmp_path / "data" / "TOY" / "toy.npz")  # its second folder
    environ = {"CNNLAB_CACHE": str(tmp_path / "cache")}
    found = find_dataset("toy", data_dir=tmp_path / "data", environ=environ, datasets=TABLE)
    assert (found.path, found.form) == (tmp_path / "data" / "TOY" / "toy.npz", "npz")
    assert locate("toy", data_dir=tmp_path / "data", environ=environ, datasets=TABLE) == found
    dataset = load_dataset(
        "toy", data_dir=tmp_path / "data", environ=environ, offline=True, datasets=TABLE
    )
    assert (dataset.name, dataset.class_names) == ("toy", ("a", "b"))
    np.testing.assert_array_equal(dataset.split("train").images, arrays["train_images"])
    np.testing.assert_array_equal(dataset.split("test").labels, arrays["test_labels"])
    assert dataset_shape("toy", TABLE) == ((1, 4, 4), 2)
    assert "toy" not in DATASETS  # nothing global changed


def test_a_new_format_gets_the_not_found_error_and_the_download(tmp_path):
    environ = {"CNNLAB_DATA": str(tmp_path / "env"), "CNNLAB_CACHE": str(tmp_path / "cache")}
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("toy", data_dir=tmp_path / "flag", environ=environ, datasets=TABLE)
    message = str(caught.value)
    for where in ("flag/toy", "flag/TOY", "env/toy", "env/TOY", "cache/toy", "cache/TOY"):
        assert str(tmp_path / where) in message
    assert "cnnlab data prepare toy" in message and "<dir>/toy/" in message

    arrays = write_toy(tmp_path / "mirror" / "toy.npz")
    remote = RemoteFile(
        "toy.npz",
        ((tmp_path / "mirror" / "toy.npz").as_uri(),),
        file_digest(tmp_path / "mirror" / "toy.npz", "md5"),
    )
    table = {**DATASETS, "toy": dataclasses.replace(TOY, remote_files=(remote,))}
    dataset = load_dataset("toy", data_dir=tmp_path / "flag", environ=environ, datasets=table)
    assert (tmp_path / "cache" / "toy" / "toy.npz").is_file()  # into its first folder
    np.testing.assert_array_equal(dataset.split("train").labels, arrays["train_labels"])


def test_names_resolve_through_the_table():
    assert lookup("mnist") == (DATASETS["mnist"], None)
    assert lookup("imagefolder:~/pets") == (DATASETS["imagefolder"], Path.home() / "pets")
    assert find_dataset("mnist-sample", environ={}).form == "idx"
    assert find_dataset("imagefolder:some/where").path == Path("some/where")
    for name in ("imagefolder", "mnist:x", "toy"):
        with pytest.raises(DataError, match=r"known datasets: mnist, .*, imagefolder:PATH; a path"):
            lookup(name)
    with pytest.raises(DataError, match=r"known datasets: .*imagefolder:PATH, toy; a path"):
        lookup("nope", TABLE)
    with pytest.raises(DataError, match="known only after loading"):
        dataset_shape("imagefolder:some/where")


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_entry_is_consistent(name):
    info = DATASETS[name]
    assert info.name == name and info.forms
    assert len({form.name for form in info.forms}) == len(info.forms)
    if info.takes_path:
        assert info.display_name == f"{name}:PATH" and info.image_shape is None
        return
    C, H, W = info.image_shape
    assert C in (1, 3) and H > 0 and W > 0
    assert info.num_classes == len(set(info.class_names)) > 1
    assert info.train_size > 0 and info.test_size > 0
    assert (info.home is not None) != bool(info.folders)
    for remote in info.remote_files:
        assert len(remote.md5) == 32 and remote.urls


def test_an_entry_needs_forms_and_exactly_one_place():
    with pytest.raises(DataError, match="exactly one of folders, home or takes_path"):
        dataclasses.replace(TOY, home=Path("/somewhere"))
    with pytest.raises(DataError, match="at least one file form"):
        dataclasses.replace(TOY, forms=())


def write_cifar10_jpg(root: Path, classes: tuple[str, ...]) -> None:
    for split in ("train", "test"):
        for cls in classes:
            (root / split / cls).mkdir(parents=True)
            Image.new("RGB", (4, 4), (40, 80, 120)).save(root / split / cls / "0.png")


def test_cifar10_jpeg_copy_is_its_second_form(tmp_path):
    write_cifar10_jpg(tmp_path / "cifar10-jpg", CIFAR10_CLASSES)
    found = locate("cifar10", data_dir=tmp_path, environ={"CNNLAB_CACHE": str(tmp_path / "c")})
    assert (found.path, found.form) == (tmp_path / "cifar10-jpg", "imagefolder")
    dataset = load_dataset("cifar10", data_dir=tmp_path, environ={}, offline=True, use_cache=False)
    assert dataset.name == "cifar10" and dataset.class_names == CIFAR10_CLASSES
    assert dataset.split("train").images.shape == (10, 3, 4, 4)


def test_cifar10_jpeg_copy_with_other_classes_is_refused(tmp_path):
    write_cifar10_jpg(tmp_path / "cifar10-jpg", ("cat", "dog"))
    with pytest.raises(DataFormatError, match=r"taken as 'cifar10' but its class folders are"):
        load_dataset("cifar10", data_dir=tmp_path, environ={}, offline=True, use_cache=False)
