"""CIFAR-10 in its official forms: python or binary batches, as a folder or the .tar.gz.

Python batches are pickled dicts with `data` (N, 3072) uint8, each row the red plane then
green then blue, each plane 32x32 row-major, and `labels` (a list of N ints). Binary
batches are N records of 1 label byte followed by the same 3072 pixel bytes.
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from cnnlab.data.arrays import Dataset, Split
from cnnlab.data.safe_pickle import safe_load_pickle
from cnnlab.errors import DataError, DataFormatError, DatasetNotFoundError, UnsafeDataError

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
IMAGE_SHAPE = (3, 32, 32)  # (C, H, W)
PIXELS = 3 * 32 * 32  # bytes per image: R plane, G plane, B plane
RECORD_BYTES = 1 + PIXELS  # binary record: label byte + pixels
MAX_MEMBER_BYTES = 256 * 2**20  # an official batch is about 31 MB; refuse absurd members


@dataclass(frozen=True)
class Layout:
    """One CIFAR-10 distribution form: its folder, archive, batch files and meta file."""

    kind: str  # "python" or "binary"
    folder: str
    archive: str
    train_batches: tuple[str, ...]
    test_batch: str
    meta: str

    @property
    def batches(self) -> tuple[str, ...]:
        return (*self.train_batches, self.test_batch)

    @property
    def files(self) -> tuple[str, ...]:
        return (*self.batches, self.meta)


PYTHON = Layout(
    kind="python",
    folder="cifar-10-batches-py",
    archive="cifar-10-python.tar.gz",
    train_batches=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_batch="test_batch",
    meta="batches.meta",
)
BINARY = Layout(
    kind="binary",
    folder="cifar-10-batches-bin",
    archive="cifar-10-binary.tar.gz",
    train_batches=tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    test_batch="test_batch.bin",
    meta="batches.meta.txt",
)
LAYOUTS = (PYTHON, BINARY)


@dataclass(frozen=True)
class _Batch:
    """One parsed batch file and where it came from (for error messages)."""

    images: np.ndarray  # (N, 3, 32, 32) uint8
    labels: np.ndarray  # (N,) int64
    source: str


def _labels(value: object, count: int, source: str) -> np.ndarray:
    """The `labels` entry of a python batch as (count,) int64, or an error naming `source`."""
    try:
        labels = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise DataFormatError(f"{source}: 'labels' is not a flat list of integers") from exc
    if labels.shape != (count,) or (count and labels.dtype.kind not in "iu"):
        raise DataFormatError(
            f"{source}: 'labels' must be {count} integers to match 'data', got shape "
            f"{labels.shape} dtype {labels.dtype}"
        )
    return labels.astype(np.int64)


def _python_batch(data: bytes, source: str) -> _Batch:
    """A pickled batch dict -> images (N, 3, 32, 32) and labels (N,)."""
    batch = safe_load_pickle(data, source=source)
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        keys = sorted(map(str, batch)) if isinstance(batch, dict) else type(batch).__name__
        raise DataFormatError(
            f"{source}: expected a dict with keys 'data' and 'labels', got {keys}"
        )
    pixels = batch["data"]
    if not (
        isinstance(pixels, np.ndarray)
        and pixels.dtype == np.uint8
        and pixels.ndim == 2
        and pixels.shape[1] == PIXELS
    ):
        got = (
            f"shape {pixels.shape} dtype {pixels.dtype}"
            if isinstance(pixels, np.ndarray)
            else type(pixels).__name__
        )
        raise DataFormatError(f"{source}: 'data' must be a (N, {PIXELS}) uint8 array, got {got}")
    labels = _labels(batch["labels"], len(pixels), source)
    return _Batch(pixels.reshape(-1, *IMAGE_SHAPE), labels, source)


def _binary_batch(data: bytes, source: str) -> _Batch:
    """Records of 1 label byte + 3072 pixel bytes -> images (N, 3, 32, 32) and labels (N,)."""
    if len(data) % RECORD_BYTES:
        raise DataFormatError(
            f"{source}: size {len(data)} bytes is not a multiple of the {RECORD_BYTES}-byte "
            f"record (1 label + {PIXELS} pixels); the file is truncated or not a CIFAR-10 batch"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)  # (N, 3073)
    images = records[:, 1:].reshape(-1, *IMAGE_SHAPE)  # (N, 3, 32, 32)
    return _Batch(images, records[:, 0].astype(np.int64), source)


def _python_meta(data: bytes, source: str) -> tuple[str, ...]:
    """Class names from a pickled `batches.meta` dict (`label_names`, bytes or str)."""
    meta = safe_load_pickle(data, source=source)
    names = meta.get("label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, (bytes, str)) for n in names):
        raise DataFormatError(f"{source}: expected a dict whose 'label_names' is a list of names")
    try:
        return tuple(n.decode("utf-8") if isinstance(n, bytes) else n for n in names)
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{source}: a label name is not UTF-8 ({exc})") from exc


def _binary_meta(data: bytes, source: str) -> tuple[str, ...]:
    """Class names from `batches.meta.txt`: one per line, blank lines ignored."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{source}: not UTF-8 text ({exc})") from exc
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _checked_class_names(names: tuple[str, ...], source: str) -> tuple[str, ...]:
    """Meta class names, which must be 10 distinct non-empty strings."""
    if len(names) != len(CIFAR10_CLASSES) or len(set(names)) != len(names) or not all(names):
        raise DataFormatError(
            f"{source}: expected {len(CIFAR10_CLASSES)} distinct class names, got {list(names)}"
        )
    return names


def _parse(layout: Layout, name: str, data: bytes, source: str) -> _Batch | tuple[str, ...]:
    """One file of `layout`: a batch, or the class names if it is the meta file."""
    if name == layout.meta:
        names = (_python_meta if layout is PYTHON else _binary_meta)(data, source)
        return _checked_class_names(names, source)
    batch = (_python_batch if layout is PYTHON else _binary_batch)(data, source)
    if len(batch.labels) == 0:
        raise DataFormatError(f"{source}: the batch holds no images")
    return batch


def _directory_layout(directory: Path) -> Layout:
    """The form of a batch folder, judged by the files in it, else by its name."""
    for layout in LAYOUTS:
        if any((directory / name).is_file() for name in layout.files):
            return layout
    return BINARY if directory.name == BINARY.folder else PYTHON


def _read_directory(directory: Path) -> tuple[Layout, dict[str, _Batch | tuple[str, ...]]]:
    """The layout of a batch folder and every file of it that is there, parsed."""
    layout = _directory_layout(directory)
    parts = {}
    for name in layout.files:
        path = directory / name
        if path.is_file():
            parts[name] = _parse(layout, name, path.read_bytes(), str(path))
    return layout, parts


def _archive_members(archive: Path) -> Iterator[tuple[str, str, bytes]]:
    """(file name, member path, bytes) of each CIFAR-10 file in a tar, in one streaming pass."""
    wanted = {name for layout in LAYOUTS for name in layout.files}
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                name = PurePosixPath(member.name).name
                if name not in wanted:
                    continue
                if not member.isreg():
                    raise UnsafeDataError(
                        f"{archive}: member {member.name} is not a regular file (type "
                        f"{member.type!r}); refusing it"
                    )
                if member.size > MAX_MEMBER_BYTES:
                    raise DataFormatError(
                        f"{archive}: member {member.name} is {member.size} bytes; a CIFAR-10 "
                        f"file is at most {MAX_MEMBER_BYTES}"
                    )
                stream = tar.extractfile(member)
                data = stream.read() if stream is not None else b""
                if len(data) != member.size:
                    raise DataFormatError(
                        f"{archive}: member {member.name} is truncated: expected "
                        f"{member.size} bytes, got {len(data)}"
                    )
                yield name, member.name, data
    except DataError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{archive}: not a readable tar archive ({exc})") from exc


def _read_archive(archive: Path) -> tuple[Layout, dict[str, _Batch | tuple[str, ...]]]:
    """The layout of a CIFAR-10 tar archive and its files, parsed, without extracting."""
    parts: dict[str, _Batch | tuple[str, ...]] = {}
    sources: dict[str, str] = {}
    for name, member, data in _archive_members(archive):
        if name in sources:
            raise DataFormatError(f"{archive}: {name} appears twice ({sources[name]} and {member})")
        sources[name] = member
        layout = PYTHON if name in PYTHON.files else BINARY
        parts[name] = _parse(layout, name, data, f"{archive}:{member}")
    if not parts:
        raise DatasetNotFoundError(
            f"{archive} holds no CIFAR-10 batches; expected {PYTHON.folder}/data_batch_1.. "
            f"or {BINARY.folder}/data_batch_1.bin.."
        )
    layout = PYTHON if any(name in PYTHON.files for name in parts) else BINARY
    return layout, {name: part for name, part in parts.items() if name in layout.files}


def find_cifar10(root: Path) -> Path | None:
    """The first CIFAR-10 copy at `root`: a batch folder or official archive, or one inside."""
    root = Path(root)
    if root.is_file():
        return root if root.name in (PYTHON.archive, BINARY.archive) else None
    if not root.is_dir():
        return None
    if root.name in (PYTHON.folder, BINARY.folder) or any(
        (root / name).is_file() for layout in LAYOUTS for name in layout.batches
    ):
        return root
    for candidate in (
        root / PYTHON.folder,
        root / PYTHON.archive,
        root / BINARY.folder,
        root / BINARY.archive,
    ):
        if candidate.exists():
            return candidate
    return None


def _split(batches: list[_Batch], num_classes: int) -> Split:
    """Concatenate batches into one split (always a fresh, writable array)."""
    for batch in batches:
        if batch.labels.min() < 0 or batch.labels.max() >= num_classes:
            raise DataFormatError(
                f"{batch.source}: labels range {batch.labels.min()}..{batch.labels.max()}; "
                f"expected 0..{num_classes - 1}"
            )
    images = np.concatenate([batch.images for batch in batches])  # (N, 3, 32, 32)
    labels = np.concatenate([batch.labels for batch in batches])  # (N,)
    return Split(images, labels)


def load_cifar10(path: Path) -> Dataset:
    """Load CIFAR-10 from a batch folder, an official archive, or a folder holding either."""
    path = Path(path)
    found = path if path.is_file() else find_cifar10(path)
    if found is None:
        raise DatasetNotFoundError(
            f"no CIFAR-10 at {path}: expected a {PYTHON.folder}/ or {BINARY.folder}/ folder "
            f"or a {PYTHON.archive} or {BINARY.archive} archive"
        )
    layout, parts = _read_archive(found) if found.is_file() else _read_directory(found)
    missing = [name for name in layout.batches if name not in parts]
    if missing:
        raise DatasetNotFoundError(
            f"CIFAR-10 ({layout.kind} batches) at {found} lacks {', '.join(missing)}"
        )
    meta = parts.get(layout.meta)
    class_names = CIFAR10_CLASSES if meta is None else meta
    train = _split([parts[name] for name in layout.train_batches], len(class_names))
    test = _split([parts[layout.test_batch]], len(class_names))
    return Dataset(name="cifar10", class_names=class_names, splits={"train": train, "test": test})
