"""Finding datasets: search order, the not-found message, downloads into the cache, the sample."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from cnnlab.data import DATASETS, find_dataset, load_dataset
from cnnlab.data.catalog import RemoteFile
from cnnlab.data.download import file_digest
from cnnlab.data.idx import write_idx
from cnnlab.data.locate import cache_root, search_places
from cnnlab.errors import DataError, DatasetNotFoundError

RNG = np.random.default_rng(0)


def make_idx_dir(directory: Path, train: int = 6, test: int = 4, seed: int = 0) -> dict:
    """Write the four canonical IDX gz files of a tiny MNIST-like set; return the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, test, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        write_idx(directory / f"{stem}.gz", array)
    return arrays


def test_search_order_is_data_dir_env_cache_system(tmp_path):
    environ = {"CNNLAB_DATA": str(tmp_path / "env"), "CNNLAB_CACHE": str(tmp_path / "cache")}
    places = search_places(tmp_path / "flag", environ)
    assert [p.origin for p in places][:3] == ["--data-dir", "$CNNLAB_DATA", "cache"]
    assert [p.path for p in places][:3] == [tmp_path / "flag", tmp_path / "env", tmp_path / "cache"]
    assert places[3].path == Path("/usr/share/datasets")


def test_cache_root_defaults_to_home_cache(tmp_path):
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "cnnlab"
    assert cache_root({"CNNLAB_CACHE": str(tmp_path / "c")}) == tmp_path / "c"


def test_data_dir_wins_over_env(tmp_path):
    first = make_idx_dir(tmp_path / "flag" / "mnist", seed=1)
    make_idx_dir(tmp_path / "env" / "mnist", seed=2)
    environ = {"CNNLAB_DATA": str(tmp_path / "env"), "CNNLAB_CACHE": str(tmp_path / "cache")}
    dataset = load_dataset("mnist", data_dir=tmp_path / "flag", environ=environ, offline=True)
    np.testing.assert_array_equal(
        dataset.split("train").images[:, 0], first["train-images-idx3-ubyte"]
    )
    np.testing.assert_array_equal(dataset.split("test").labels, first["t10k-labels-idx1-ubyte"])
    assert dataset.class_names == tuple(str(d) for d in range(10))


def test_torchvision_layout_is_found(tmp_path):
    make_idx_dir(tmp_path / "FashionMNIST" / "raw")
    environ = {"CNNLAB_DATA": str(tmp_path), "CNNLAB_CACHE": str(tmp_path / "cache")}
    dataset = load_dataset("fashion-mnist", environ=environ, offline=True)
    assert len(dataset.split("train")) == 6
    assert dataset.class_names[0] == "T-shirt/top"


def test_not_found_offline_lists_every_place_and_the_command(tmp_path):
    environ = {"CNNLAB_DATA": str(tmp_path / "env"), "CNNLAB_CACHE": str(tmp_path / "cache")}
    with pytest.raises(DatasetNotFoundError) as caught:
        find_dataset("mnist", data_dir=tmp_path / "flag", environ=environ, offline=True)
    message = str(caught.value)
    for where in (
        tmp_path / "flag" / "mnist",
        tmp_path / "env" / "mnist",
        tmp_path / "cache" / "mnist",
    ):
        assert str(where) in message
    assert "/usr/share/datasets/mnist" in message
    assert "--offline" in message and "cnnlab data prepare mnist" in message


def test_download_goes_into_the_cache_and_loads(tmp_path, monkeypatch):
    """A dataset found nowhere is downloaded (here from file:// URLs) and verified."""
    arrays = make_idx_dir(tmp_path / "mirror")
    remote = tuple(
        RemoteFile(
            f"{stem}.gz",
            ((tmp_path / "mirror" / f"{stem}.gz").as_uri(),),
            file_digest(tmp_path / "mirror" / f"{stem}.gz", "md5"),
        )
        for stem in arrays
    )
    monkeypatch.setitem(
        DATASETS, "mnist", dataclasses.replace(DATASETS["mnist"], remote_files=remote)
    )
    environ = {"CNNLAB_CACHE": str(tmp_path / "cache")}
    dataset = load_dataset("mnist", environ=environ)
    assert sorted(os.listdir(tmp_path / "cache" / "mnist")) == sorted(f"{s}.gz" for s in arrays)
    np.testing.assert_array_equal(dataset.split("train").labels, arrays["train-labels-idx1-ubyte"])


def test_unknown_dataset_name_lists_known_ones():
    with pytest.raises(DataError, match=r"unknown dataset 'mnits'.*mnist, fashion-mnist, cifar10"):
        load_dataset("mnits", offline=True)


def test_embedded_sample_loads_offline(tmp_path):
    dataset = load_dataset("mnist-sample", environ={"CNNLAB_CACHE": str(tmp_path)}, offline=True)
    train, test = dataset.split("train"), dataset.split("test")
    assert train.images.shape == (2000, 1, 28, 28) and test.images.shape == (500, 1, 28, 28)
    assert train.images.dtype == np.uint8 and train.labels.dtype == np.int64
    assert set(np.unique(train.labels)) == set(range(10))
    assert train.images.max() == 255 and train.images.min() == 0


@pytest.mark.realdata
def test_embedded_sample_is_the_head_of_real_mnist():
    data = os.environ.get("CNNLAB_DATA")
    if not data or not (Path(data) / "mnist").is_dir():
        pytest.skip("needs full MNIST: set CNNLAB_DATA to a directory holding mnist/")
    full = load_dataset("mnist", data_dir=Path(data), offline=True)
    sample = load_dataset("mnist-sample", offline=True)
    np.testing.assert_array_equal(sample.split("train").images, full.split("train").images[:2000])
    np.testing.assert_array_equal(sample.split("test").labels, full.split("test").labels[:500])
