"""gzip IDX files kept inflated in the cache: same arrays, no second inflation, and a change
to the file, a damaged copy or a cache that cannot be written never gives wrong data."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cnnlab.data import idx
from cnnlab.data.idx import INFLATED_FOLDER, MNIST_CLASSES, load_idx_dataset, write_idx


def make_mnist_dir(directory, seed=0):
    """The four IDX files (gz) of a tiny MNIST-like set: 5 train and 3 test images."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 5, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 3, dtype=np.uint8),
    }
    for stem, array in arrays.items():
        write_idx(directory / f"{stem}.gz", array)
    return arrays


def _load(directory, cache):
    return load_idx_dataset(directory, "mnist", MNIST_CLASSES, cache_dir=cache)


def _copies(cache):
    return sorted(p.name for p in (cache / INFLATED_FOLDER).iterdir())


def test_the_second_load_reads_the_kept_copies_not_the_gzip_files(tmp_path, monkeypatch):
    arrays = make_mnist_dir(tmp_path / "mnist")
    first = _load(tmp_path / "mnist", tmp_path / "cache")
    assert len(_copies(tmp_path / "cache")) == 4
    inflated = []
    real = idx._gunzip_bounded
    monkeypatch.setattr(idx, "_gunzip_bounded", lambda *a: inflated.append(a[0]) or real(*a))
    again = _load(tmp_path / "mnist", tmp_path / "cache")
    assert inflated == []  # nothing was inflated the second time
    for split in ("train", "test"):
        np.testing.assert_array_equal(again.splits[split].images, first.splits[split].images)
        np.testing.assert_array_equal(again.splits[split].labels, first.splits[split].labels)
    np.testing.assert_array_equal(again.splits["train"].images[:, 0],
                                  arrays["train-images-idx3-ubyte"])  # fmt: skip
    again.splits["train"].images[0, 0, 0, 0] = 1  # writable, as without the cache


def test_a_changed_file_is_inflated_again_and_its_old_copy_dropped(tmp_path):
    make_mnist_dir(tmp_path / "mnist", seed=0)
    _load(tmp_path / "mnist", tmp_path / "cache")
    before = _copies(tmp_path / "cache")
    labels = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
    stat = labels.stat()
    write_idx(labels, np.full(5, 9, dtype=np.uint8))
    os.utime(labels, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later mtime
    loaded = _load(tmp_path / "mnist", tmp_path / "cache")
    np.testing.assert_array_equal(loaded.splits["train"].labels, np.full(5, 9))
    after = _copies(tmp_path / "cache")
    assert len(after) == 4 and len(set(after) - set(before)) == 1  # the labels' copy replaced


def test_a_damaged_copy_is_inflated_again_and_replaced(tmp_path):
    arrays = make_mnist_dir(tmp_path / "mnist")
    _load(tmp_path / "mnist", tmp_path / "cache")
    folder = tmp_path / "cache" / INFLATED_FOLDER
    (copy,) = [p for p in folder.iterdir() if p.name.startswith("train-images")]
    copy.write_bytes(copy.read_bytes()[:100])  # truncated
    loaded = _load(tmp_path / "mnist", tmp_path / "cache")
    np.testing.assert_array_equal(loaded.splits["train"].images[:, 0],
                                  arrays["train-images-idx3-ubyte"])  # fmt: skip
    assert copy.stat().st_size == 16 + 5 * 28 * 28  # whole again


def test_no_cache_dir_writes_nothing_and_an_unwritable_cache_only_warns(tmp_path):
    arrays = make_mnist_dir(tmp_path / "mnist")
    _load(tmp_path / "mnist", None)
    assert list(tmp_path.iterdir()) == [tmp_path / "mnist"]
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="could not keep an inflated copy"):
        loaded = _load(tmp_path / "mnist", blocked)
    np.testing.assert_array_equal(loaded.splits["test"].labels, arrays["t10k-labels-idx1-ubyte"])
