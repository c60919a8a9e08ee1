"""CIFAR-10: python and binary batches as folders and .tar.gz, plane layout, safe unpickling."""

from __future__ import annotations

import io
import os
import pathlib
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from cnnlab.data.cifar import CIFAR10_CLASSES, find_cifar10, load_cifar10
from cnnlab.data.safe_pickle import safe_load_pickle
from cnnlab.errors import DataFormatError, DatasetNotFoundError, UnsafeDataError

TRAIN_SIZES = (4, 3, 2, 4, 3)  # images per data_batch_1..5: nothing assumes 10,000
TEST_SIZE = 3
META_NAMES = tuple(f"kind-{k}" for k in range(10))  # differ from the defaults on purpose


class Py2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2 `str` opcodes, as in the official CIFAR-10 pickles."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_string(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + len(data).to_bytes(4, "little") + data)
        self.memoize(obj)

    dispatch[str] = save_py2_string
    dispatch[bytes] = save_py2_string


def as_bytes(value):
    """`value` with every str (in dicts and lists too) encoded to bytes."""
    if isinstance(value, dict):
        return {as_bytes(k): as_bytes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_bytes(v) for v in value]
    return value.encode() if isinstance(value, str) else value


def dumps(obj: dict, style: str) -> bytes:
    """Pickle `obj` as Python 2 did ('py2'), as Python 3 protocol 2 with bytes ('protocol2'),
    or as Python 3 with str keys and the default protocol ('protocol5')."""
    if style == "py2":
        buffer = io.BytesIO()
        Py2Pickler(buffer, protocol=2).dump(obj)  # numpy 1.x module name, as in the real files
        return buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    if style == "protocol2":
        return pickle.dumps(as_bytes(obj), protocol=2)
    return pickle.dumps(obj)


def make_batches(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (data (N, 3072) uint8, labels (N,)) for data_batch_1..5 and test_batch."""
    rng = np.random.default_rng(seed)
    sizes = {f"data_batch_{i + 1}": n for i, n in enumerate(TRAIN_SIZES)}
    sizes["test_batch"] = TEST_SIZE
    return {
        name: (rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n))
        for name, n in sizes.items()
    }


def write_python_dir(directory: Path, batches: dict, style: str = "py2", meta: bool = True) -> Path:
    """A cifar-10-batches-py folder of pickled batch dicts (and batches.meta)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (data, labels) in batches.items():
        batch = {
            "batch_label": f"{name} of the test fixture",
            "labels": [int(v) for v in labels],
            "data": data,
            "filenames": [f"image_{j:05d}.png" for j in range(len(labels))],
        }
        (directory / name).write_bytes(dumps(batch, style))
    if meta:
        meta_dict = {"num_cases_per_batch": 4, "label_names": list(META_NAMES), "num_vis": 3072}
        (directory / "batches.meta").write_bytes(dumps(meta_dict, style))
    return directory


def write_binary_dir(directory: Path, batches: dict, meta: bool = True) -> Path:
    """A cifar-10-batches-bin folder: records of 1 label byte + 3072 pixel bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, (data, labels) in batches.items():
        records = np.concatenate([labels.astype(np.uint8)[:, None], data], axis=1)  # (N, 3073)
        (directory / f"{name}.bin").write_bytes(records.tobytes())
    if meta:
        (directory / "batches.meta.txt").write_text("\n".join(META_NAMES) + "\n\n")
    return directory


def make_archive(archive: Path, folder: Path) -> Path:
    """`folder` packed as a .tar.gz with its name as the top directory, as published."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def assert_matches(dataset, batches: dict, class_names=META_NAMES) -> None:
    """The loaded dataset holds exactly the written batches, in order."""
    assert dataset.name == "cifar10" and dataset.class_names == class_names
    train_data = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    train_labels = np.concatenate([batches[f"data_batch_{i}"][1] for i in range(1, 6)])
    train, test = dataset.split("train"), dataset.split("test")
    assert train.images.shape == (sum(TRAIN_SIZES), 3, 32, 32) and train.images.dtype == np.uint8
    assert train.labels.dtype == np.int64
    np.testing.assert_array_equal(train.images.reshape(-1, 3072), train_data)
    np.testing.assert_array_equal(train.labels, train_labels)
    np.testing.assert_array_equal(test.images.reshape(-1, 3072), batches["test_batch"][0])
    np.testing.assert_array_equal(test.labels, batches["test_batch"][1])


@pytest.mark.parametrize("style", ["py2", "protocol2", "protocol5"])
def test_python_batches_load_bit_for_bit(tmp_path, style):
    batches = make_batches()
    folder = write_python_dir(tmp_path / "cifar-10-batches-py", batches, style)
    assert_matches(load_cifar10(folder), batches)


def test_binary_batches_load_bit_for_bit(tmp_path):
    batches = make_batches(1)
    folder = write_binary_dir(tmp_path / "cifar-10-batches-bin", batches)
    assert_matches(load_cifar10(folder), batches)


@pytest.mark.parametrize("writer", [write_python_dir, write_binary_dir])
def test_plane_layout_puts_a_pixel_at_channel_row_column(tmp_path, writer):
    """Row byte c*1024 + y*32 + x is channel c, row y, column x of the image."""
    batches = {
        name: (np.zeros_like(data), labels) for name, (data, labels) in make_batches().items()
    }
    c, y, x = 1, 2, 3
    batches["data_batch_2"][0][1, c * 1024 + y * 32 + x] = 200
    batches["test_batch"][0][0, 2 * 1024 + 31 * 32 + 0] = 99  # blue, last row, first column
    dataset = load_cifar10(writer(tmp_path / "batches", batches))
    train, test = dataset.split("train").images, dataset.split("test").images
    assert train[TRAIN_SIZES[0] + 1, c, y, x] == 200 and train.sum() == 200
    assert test[0, 2, 31, 0] == 99 and test.sum() == 99


@pytest.mark.parametrize("writer", [write_python_dir, write_binary_dir])
def test_missing_meta_falls_back_to_the_standard_class_names(tmp_path, writer):
    batches = make_batches()
    folder = writer(tmp_path / "batches", batches, meta=False)
    assert_matches(load_cifar10(folder), batches, class_names=CIFAR10_CLASSES)


@pytest.mark.parametrize(
    ("writer", "folder_name", "archive_name"),
    [
        (write_python_dir, "cifar-10-batches-py", "cifar-10-python.tar.gz"),
        (write_binary_dir, "cifar-10-batches-bin", "cifar-10-binary.tar.gz"),
    ],
)
def test_official_archives_are_read_without_extracting(tmp_path, writer, folder_name, archive_name):
    batches = make_batches(2)
    source = writer(tmp_path / "src" / folder_name, batches)
    (tmp_path / "dl").mkdir()
    archive = make_archive(tmp_path / "dl" / archive_name, source)
    assert_matches(load_cifar10(archive), batches)
    assert os.listdir(tmp_path / "dl") == [archive_name]  # nothing extracted beside it
    assert_matches(load_cifar10(tmp_path / "dl"), batches)  # found inside a data folder


def test_find_cifar10_checks_the_forms_in_order(tmp_path):
    assert find_cifar10(tmp_path) is None and find_cifar10(tmp_path / "absent") is None
    batches = make_batches()
    binary_folder = write_binary_dir(tmp_path / "cifar-10-batches-bin", batches)
    assert find_cifar10(tmp_path) == binary_folder
    binary_archive = make_archive(tmp_path / "cifar-10-binary.tar.gz", binary_folder)
    assert find_cifar10(tmp_path) == binary_folder
    python_folder = write_python_dir(tmp_path / "src" / "cifar-10-batches-py", batches)
    python_archive = make_archive(tmp_path / "cifar-10-python.tar.gz", python_folder)
    assert find_cifar10(tmp_path) == python_archive
    python_folder.rename(tmp_path / "cifar-10-batches-py")
    assert find_cifar10(tmp_path) == tmp_path / "cifar-10-batches-py"
    # A batch folder or an official archive is itself a copy; other files are not.
    assert find_cifar10(binary_folder) == binary_folder
    assert find_cifar10(binary_archive) == binary_archive
    assert find_cifar10(binary_folder / "data_batch_1.bin") is None
    renamed = write_python_dir(tmp_path / "my-cifar", batches)
    assert find_cifar10(renamed) == renamed


def test_truncated_binary_batch_names_the_file(tmp_path):
    folder = write_binary_dir(tmp_path / "cifar-10-batches-bin", make_batches())
    path = folder / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(
        DataFormatError, match=r"data_batch_3\.bin: size 6145 bytes is not a multiple"
    ):
        load_cifar10(folder)


class TouchOnLoad:
    """Pickles to a call of `Path.touch(target)`: code run by any plain unpickler."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.touch, (self.target,))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(TouchOnLoad(control)))  # the payload really does run code...
    assert control.exists()
    folder = write_python_dir(tmp_path / "cifar-10-batches-py", make_batches())
    target = tmp_path / "pwned"
    payload = {"data": TouchOnLoad(target), "labels": [0]}
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        (folder / "data_batch_3").write_bytes(pickle.dumps(payload, protocol=protocol))
        with pytest.raises(UnsafeDataError, match=r"refused to load \S+ from \S*data_batch_3"):
            load_cifar10(folder)
        assert not target.exists()  # ...but not here


def test_restricted_unpickler_refuses_builtins_that_are_not_containers():
    for module in (b"builtins", b"__builtin__", b"os"):
        name = b"system" if module == b"os" else b"eval"
        payload = b"\x80\x02c" + module + b"\n" + name + b"\n."  # GLOBAL module name; STOP
        with pytest.raises(
            UnsafeDataError, match=rf"refused to load {module.decode()}\.{name.decode()}"
        ):
            safe_load_pickle(payload, source="data_batch_1")


def test_restricted_unpickler_normalises_keys_and_refuses_duplicates():
    assert safe_load_pickle(pickle.dumps({b"a": 1, "b": 2}), source="s") == {"a": 1, "b": 2}
    with pytest.raises(DataFormatError, match="s holds the key 'a' twice"):
        safe_load_pickle(pickle.dumps({b"a": 1, "a": 2}), source="s")


@pytest.mark.parametrize("content", [b"\x00garbage bytes", b"", b"\x80\x02}q\x00(U"])
def test_garbage_in_a_python_batch_names_the_file(tmp_path, content):
    folder = write_python_dir(tmp_path / "cifar-10-batches-py", make_batches())
    (folder / "test_batch").write_bytes(content)
    with pytest.raises(DataFormatError, match=r"test_batch is not a readable pickle"):
        load_cifar10(folder)


def test_missing_batches_are_named(tmp_path):
    folder = write_python_dir(tmp_path / "cifar-10-batches-py", make_batches())
    (folder / "data_batch_4").unlink()
    (folder / "test_batch").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"lacks data_batch_4, test_batch$"):
        load_cifar10(folder)
    with pytest.raises(DatasetNotFoundError, match="no CIFAR-10 at"):
        load_cifar10(tmp_path / "empty-folder")


def test_archive_missing_a_batch_names_it(tmp_path):
    folder = write_binary_dir(tmp_path / "cifar-10-batches-bin", make_batches())
    (folder / "data_batch_5.bin").unlink()
    archive = make_archive(tmp_path / "cifar-10-binary.tar.gz", folder)
    with pytest.raises(
        DatasetNotFoundError, match=r"cifar-10-binary\.tar\.gz lacks data_batch_5\.bin"
    ):
        load_cifar10(archive)


def test_non_regular_archive_member_is_refused(tmp_path):
    folder = write_python_dir(tmp_path / "cifar-10-batches-py", make_batches())
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
        for name in ("data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
            tar.add(folder / name, arcname=f"cifar-10-batches-py/{name}")
    with pytest.raises(
        UnsafeDataError, match=r"member cifar-10-batches-py/data_batch_1 is not a regular"
    ):
        load_cifar10(archive)


def test_corrupt_archive_names_it(tmp_path):
    folder = write_python_dir(tmp_path / "cifar-10-batches-py", make_batches())
    archive = make_archive(tmp_path / "cifar-10-python.tar.gz", folder)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DataFormatError, match=r"cifar-10-python\.tar\.gz"):
        load_cifar10(archive)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda b: {**b, "data": b["data"][:, :3000]},
            r"'data' must be a \(N, 3072\) uint8 array, got shape \(3, 3000\)",
        ),
        (lambda b: {**b, "data": b["data"].astype(np.int16)}, "got shape .* dtype int16"),
        (lambda b: {**b, "labels": b["labels"][:-1]}, "'labels' must be 3 integers"),
        (lambda b: {**b, "labels": ["cat"] * 3}, "'labels' must be 3 integers"),
        (lambda b: {"data": b["data"]}, "expected a dict with keys 'data' and 'labels'"),
        (lambda b: {**b, "labels": [0, 10, 1]}, r"labels range 0\.\.10; expected 0\.\.9"),
    ],
)
def test_bad_python_batch_contents_are_named(tmp_path, change, message):
    batches = make_batches()
    folder = write_python_dir(tmp_path / "cifar-10-batches-py", batches)
    data, labels = batches["test_batch"]
    bad = change({"data": data, "labels": [int(v) for v in labels]})
    (folder / "test_batch").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(DataFormatError, match=message) as err:
        load_cifar10(folder)
    assert "test_batch" in str(err.value)


def test_binary_label_out_of_range_names_the_file(tmp_path):
    folder = write_binary_dir(tmp_path / "cifar-10-batches-bin", make_batches())
    path = folder / "data_batch_2.bin"
    content = bytearray(path.read_bytes())
    content[3073] = 12  # label byte of the second record
    path.write_bytes(bytes(content))
    with pytest.raises(DataFormatError, match=r"data_batch_2\.bin: labels range \d+\.\.12"):
        load_cifar10(folder)


def test_meta_with_the_wrong_number_of_names_is_refused(tmp_path):
    folder = write_binary_dir(tmp_path / "cifar-10-batches-bin", make_batches())
    (folder / "batches.meta.txt").write_text("cat\ndog\n")
    with pytest.raises(
        DataFormatError, match=r"batches\.meta\.txt: expected 10 distinct class names"
    ):
        load_cifar10(folder)
