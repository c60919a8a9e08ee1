"""IDX files: header parsing, gzip by magic, every dtype, truncation, and the four-file loader."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from cnnlab.data.idx import (
    FASHION_MNIST_CLASSES,
    IDX_FILES,
    MNIST_CLASSES,
    find_idx_files,
    load_idx_dataset,
    read_idx,
    write_idx,
)
from cnnlab.errors import DataFormatError, DatasetNotFoundError


def idx_by_hand(code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    """IDX bytes assembled from the format description, independent of `write_idx`."""
    return bytes((0, 0, code, len(shape))) + struct.pack(f">{len(shape)}I", *shape) + payload


def make_mnist_dir(directory: Path, train: int = 5, test: int = 3, seed: int = 0) -> dict:
    """The four canonical IDX files of a tiny MNIST-like set (gz); returns the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, test, dtype=np.uint8),
    }
    for stem, array in arrays.items():
        write_idx(directory / f"{stem}.gz", array)
    return arrays


def test_reads_a_hand_built_uint8_file(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(idx_by_hand(0x08, (2, 2, 3), bytes(range(12))))
    array = read_idx(path)
    assert array.dtype == np.uint8 and array.shape == (2, 2, 3)
    np.testing.assert_array_equal(array, np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    array[0, 0, 0] = 7  # the result is a writable array, not a view of the file bytes


@pytest.mark.parametrize(
    ("code", "dtype"),
    [(0x08, "u1"), (0x09, "i1"), (0x0B, "i2"), (0x0C, "i4"), (0x0D, "f4"), (0x0E, "f8")],
)
def test_every_dtype_code_is_big_endian_and_returned_native(tmp_path, code, dtype):
    values = np.array([[-2, 1, 3], [100, -100, 0]]).astype(dtype)  # i1/u1 wrap, on purpose
    path = tmp_path / "values"
    path.write_bytes(idx_by_hand(code, values.shape, values.astype(">" + dtype).tobytes()))
    array = read_idx(path)
    assert array.dtype == np.dtype(dtype) and array.dtype.isnative
    np.testing.assert_array_equal(array, values)
    write_idx(tmp_path / "again", values)  # the writer produces the same bytes
    assert (tmp_path / "again").read_bytes() == path.read_bytes()


def test_gzip_is_detected_by_magic_not_by_name(tmp_path):
    raw = idx_by_hand(0x08, (3,), b"\x01\x02\x03")
    (tmp_path / "zipped_without_suffix").write_bytes(gzip.compress(raw))
    (tmp_path / "raw_with_suffix.gz").write_bytes(raw)
    for name in ("zipped_without_suffix", "raw_with_suffix.gz"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), [1, 2, 3])


def test_write_idx_gzips_by_suffix_and_round_trips(tmp_path):
    array = np.random.default_rng(1).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "a", array)
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress((tmp_path / "a.gz").read_bytes()) == (tmp_path / "a").read_bytes()
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)
    assert sorted(os.listdir(tmp_path)) == ["a", "a.gz"]  # no temporary files left behind


def test_write_idx_refuses_dtypes_idx_cannot_hold(tmp_path):
    with pytest.raises(DataFormatError, match="IDX cannot hold dtype int64"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    assert not (tmp_path / "x").exists()


def test_truncated_payload_names_the_file_and_both_sizes(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_by_hand(0x08, (2, 28, 28), bytes(2 * 784 - 10))))
    with pytest.raises(DataFormatError, match=r"train-images-idx3-ubyte\.gz.*truncated") as err:
        read_idx(path)
    assert "expected 1568 bytes" in str(err.value) and "got 1558" in str(err.value)


def test_extra_trailing_bytes_are_an_error(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_by_hand(0x08, (4,), bytes(5)))
    with pytest.raises(
        DataFormatError, match=r"labels: has extra trailing bytes.*expected 4 .*got 5"
    ):
        read_idx(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x00", "needs 4 bytes of magic, the file holds 2"),
        (b"\x08\x03\x00\x00\x00\x01", "not an IDX file"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown IDX dtype code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x01", "truncated IDX header: expected 16 bytes"),
    ],
)
def test_bad_headers_are_named(tmp_path, content, message):
    path = tmp_path / "broken-idx"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=message) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_corrupt_gzip_stream_names_the_file(tmp_path):
    good = gzip.compress(idx_by_hand(0x08, (1000,), bytes(1000)))
    for name, content in {
        "cut.gz": good[:-12],
        "flipped.gz": good[:20] + b"\xff" * 8 + good[28:],
    }.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DataFormatError, match=rf"{name}: corrupt gzip stream"):
            read_idx(tmp_path / name)


def test_missing_file_is_dataset_not_found(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


def test_find_idx_files_prefers_gz_and_accepts_raw(tmp_path):
    make_mnist_dir(tmp_path)
    raw_stem = IDX_FILES[1]
    (tmp_path / raw_stem).write_bytes(gzip.decompress((tmp_path / f"{raw_stem}.gz").read_bytes()))
    assert find_idx_files(tmp_path) == {stem: tmp_path / f"{stem}.gz" for stem in IDX_FILES}
    (tmp_path / f"{raw_stem}.gz").unlink()
    assert find_idx_files(tmp_path)[raw_stem] == tmp_path / raw_stem


def test_find_idx_files_looks_in_torchvision_raw_folder_and_returns_none(tmp_path):
    assert find_idx_files(tmp_path) is None
    make_mnist_dir(tmp_path / "raw")
    assert find_idx_files(tmp_path) == {stem: tmp_path / "raw" / f"{stem}.gz" for stem in IDX_FILES}
    (tmp_path / "raw" / f"{IDX_FILES[2]}.gz").unlink()
    assert find_idx_files(tmp_path) is None


def test_load_idx_dataset_bit_for_bit(tmp_path):
    arrays = make_mnist_dir(tmp_path)
    dataset = load_idx_dataset(tmp_path, "fashion-mnist", FASHION_MNIST_CLASSES)
    assert dataset.name == "fashion-mnist" and dataset.class_names == FASHION_MNIST_CLASSES
    train, test = dataset.split("train"), dataset.split("test")
    assert train.images.shape == (5, 1, 28, 28) and test.images.shape == (3, 1, 28, 28)
    assert train.labels.dtype == np.int64
    np.testing.assert_array_equal(train.images[:, 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(train.labels, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(test.images[:, 0], arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(test.labels, arrays["t10k-labels-idx1-ubyte"])
    assert set(dataset.splits) == {"train", "test"}


def test_count_mismatch_names_both_files_and_counts(tmp_path):
    make_mnist_dir(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4, dtype=np.uint8))
    with pytest.raises(DataFormatError) as err:
        load_idx_dataset(tmp_path, "mnist", MNIST_CLASSES)
    message = str(err.value)
    assert "t10k-images-idx3-ubyte.gz holds 3 images" in message
    assert "t10k-labels-idx1-ubyte.gz holds 4 labels" in message


def test_label_beyond_the_classes_is_refused(tmp_path):
    make_mnist_dir(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([0, 1, 2, 10, 3], np.uint8))
    with pytest.raises(DataFormatError, match=r"train-labels-idx1-ubyte\.gz: labels range 0\.\.10"):
        load_idx_dataset(tmp_path, "mnist", MNIST_CLASSES)


def test_images_of_the_wrong_rank_are_refused(tmp_path):
    make_mnist_dir(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((5, 784), np.uint8))
    with pytest.raises(DataFormatError, match=r"train-images.*\(N, H, W\).*\(5, 784\)"):
        load_idx_dataset(tmp_path, "mnist", MNIST_CLASSES)


def test_missing_directory_and_missing_files_are_named(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=rf"{tmp_path / 'absent'} does not exist"):
        load_idx_dataset(tmp_path / "absent", "mnist", MNIST_CLASSES)
    make_mnist_dir(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError) as err:
        load_idx_dataset(tmp_path, "mnist", MNIST_CLASSES)
    message = str(err.value)
    assert str(tmp_path) in message
    assert "train-labels-idx1-ubyte" in message and "t10k-images-idx3-ubyte" in message
    assert "train-images-idx3-ubyte" not in message


def test_class_name_constants():
    assert MNIST_CLASSES == tuple(str(d) for d in range(10))
    assert len(FASHION_MNIST_CLASSES) == 10 and FASHION_MNIST_CLASSES[9] == "Ankle boot"


@pytest.mark.realdata
def test_real_mnist_loads_with_known_counts():
    """The full MNIST under $CNNLAB_DATA/mnist: sizes and the published class counts."""
    directory = Path(os.environ.get("CNNLAB_DATA", "/nonexistent")) / "mnist"
    if find_idx_files(directory) is None:
        pytest.skip("full MNIST not found under $CNNLAB_DATA/mnist")
    dataset = load_idx_dataset(directory, "mnist", MNIST_CLASSES)
    train = dataset.split("train")
    assert train.images.shape == (60_000, 1, 28, 28) and len(dataset.split("test")) == 10_000
    assert train.labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert np.bincount(train.labels).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
    ]  # fmt: skip
