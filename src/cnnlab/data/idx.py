"""MNIST-style IDX files: read and write them (raw or gzip), and load the four-file datasets.

An IDX file is a 4-byte magic (two zero bytes, a dtype code, the number of dimensions),
one big-endian uint32 per dimension, then the values in C order, big-endian.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from cnnlab.atomic import write_bytes
from cnnlab.data.arrays import DEFAULT_MAX_BYTES, Dataset, Split, check_within
from cnnlab.errors import DataFormatError, DatasetNotFoundError

MNIST_CLASSES = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

# The four files of an MNIST-like dataset (each stored raw or with .gz), and their splits.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
SPLIT_FILES = {  # split -> (images file, labels file)
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# IDX dtype code -> big-endian numpy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
INFLATED_FOLDER = "inflated-idx"  # under the cache: gzip IDX files kept inflated
GZIP_CHUNK = 1 << 20  # compressed bytes read at a time


def _is_idx_start(head: bytes) -> bool:
    """Whether 4 bytes can begin an IDX header: 0, 0, a known dtype code, >= 1 dimension."""
    return not head[0] and not head[1] and head[2] in IDX_DTYPES and head[3] > 0


def declared_size(head: bytes) -> int | None:
    """The file size (header and data, bytes) an IDX header declares, or None while `head` is
    too short to tell or is no IDX header (the parser then says what is wrong)."""
    if len(head) < 4 or not _is_idx_start(head) or len(head) < 4 + 4 * head[3]:
        return None
    header_bytes = 4 + 4 * head[3]
    shape = struct.unpack(f">{head[3]}I", head[4:header_bytes])
    return header_bytes + int(np.prod(shape, dtype=object)) * IDX_DTYPES[head[2]].itemsize


def _gunzip_bounded(path: Path, stream: BinaryIO, max_bytes: int) -> bytearray:
    """The gzip stream inflated chunk by chunk, never past what its IDX header declares (plus
    one byte, to notice a longer file) nor past `max_bytes`: a decompression bomb is refused as
    soon as it outgrows its header, in memory bounded by the valid data."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    data = bytearray()
    cap = 4 + 4 * 255  # the longest IDX header, until the header says more
    pending = b""
    while True:
        if not pending and inflater.eof:  # another gzip member may follow, as in gzip files
            pending = inflater.unused_data or stream.read(GZIP_CHUNK)
            if not pending:
                return data
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        elif not pending:
            pending = stream.read(GZIP_CHUNK)
            if not pending:
                raise EOFError("the file ends before the end of its gzip stream")
        data += inflater.decompress(pending, cap + 1 - len(data))
        pending = inflater.unconsumed_tail
        if len(data) >= 4 and not _is_idx_start(data[:4]):
            return data  # not an IDX header: the parser names the fault
        size = declared_size(bytes(data[: 4 + 4 * data[3]])) if len(data) >= 4 else None
        if size is not None and cap < size:
            check_within(f"{path}: the {size:,} bytes its IDX header declares", size, max_bytes)
            cap = size
        if len(data) > cap:
            raise DataFormatError(
                f"{path}: the gzip stream inflates beyond the {cap:,} bytes its IDX header "
                f"declares (a corrupt file or a decompression bomb); refused"
            )


def _file_bytes(path: Path, max_bytes: int) -> bytearray:
    """The file's content, gunzipped when it starts with the gzip magic (whatever its name),
    read no further than its IDX header declares and never past `max_bytes`."""
    try:
        stream = open(path, "rb")
    except FileNotFoundError as exc:
        raise DatasetNotFoundError(f"IDX file {path} does not exist") from exc
    with stream:
        gzipped = stream.read(len(GZIP_MAGIC)) == GZIP_MAGIC
        stream.seek(0)
        if not gzipped:
            size = os.fstat(stream.fileno()).st_size
            check_within(f"{path}: its {size:,} bytes", size, max_bytes)
            data = bytearray(size)  # read in place: a writable buffer the array can keep
            del data[stream.readinto(data) :]  # in place, should the file have shrunk
            return data
        try:
            return _gunzip_bounded(path, stream, max_bytes)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataFormatError(f"{path}: corrupt gzip stream ({exc})") from exc


def parse_idx(data: bytes | bytearray, source: str) -> np.ndarray:
    """The array held by the IDX bytes `data`, native-endian; `source` names it in errors."""
    if len(data) < 4:
        raise DataFormatError(
            f"{source}: IDX header needs 4 bytes of magic, the file holds {len(data)}"
        )
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 or zero1:
        raise DataFormatError(
            f"{source}: not an IDX file (magic {data[:4].hex()} should start with 0000)"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataFormatError(f"{source}: unknown IDX dtype code 0x{code:02X}; expected {known}")
    if ndim == 0:
        raise DataFormatError(f"{source}: IDX header says 0 dimensions; expected at least 1")
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise DataFormatError(
            f"{source}: truncated IDX header: expected {header_bytes} bytes for {ndim} "
            f"dimensions, got {len(data)}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_bytes])
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize  # python ints: no overflow
    got = len(data) - header_bytes
    if got != expected:
        what = "truncated" if got < expected else "has extra trailing bytes"
        raise DataFormatError(
            f"{source}: {what}: expected {expected} bytes of data for shape {shape} "
            f"{dtype.name}, got {got}"
        )
    values = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header_bytes)
    native = values.astype(dtype.newbyteorder("="), copy=False)  # a view for bytes: no copy
    if not native.flags.writeable:  # a bytes object: copy into an array of our own
        native = native.copy()
    return native.reshape(shape)


def read_idx(
    path: Path, max_bytes: int = DEFAULT_MAX_BYTES, cache_dir: Path | None = None
) -> np.ndarray:
    """The array in IDX file `path` (raw or gzip, detected by magic bytes), native-endian;
    a file bigger than `max_bytes`, or whose header declares more, is refused unread.

    With `cache_dir`, a `.gz` file is inflated once and its bytes kept there
    (`inflated-idx/`, named by the file's path, size and mtime): full MNIST took 0.18 s to
    inflate at every start, its kept copy 0.05 s to read.
    """
    path = Path(path)
    if cache_dir is None or not path.name.endswith(".gz"):
        return parse_idx(_file_bytes(path, max_bytes), str(path))
    copy = _inflated_copy(path, Path(cache_dir))
    if copy.is_file():
        try:
            return parse_idx(_file_bytes(copy, max_bytes), str(copy))
        except (DataFormatError, OSError):
            pass  # a damaged copy: inflate the original again and replace it
    data = _file_bytes(path, max_bytes)
    array = parse_idx(data, str(path))  # parsed first: a corrupt file leaves no copy
    _keep_inflated(copy, data)
    return array


def _inflated_copy(path: Path, cache_dir: Path) -> Path:
    """Where `path`'s inflated bytes are kept: `<name>-<path hash>-<size and mtime hash>`."""
    st = path.stat()
    where = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    when = hashlib.sha256(f"{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return cache_dir / INFLATED_FOLDER / f"{path.name.removesuffix('.gz')}-{where}-{when}"


def _keep_inflated(copy: Path, data: bytearray) -> None:
    """Write `copy` atomically and drop older copies of the same file; a cache that cannot be
    written costs only the speed-up, so it warns instead of failing the load."""
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        stem = copy.name.rsplit("-", 1)[0]
        for older in copy.parent.glob(f"{stem}-*"):
            if older.name != copy.name:
                older.unlink(missing_ok=True)
        write_bytes(copy, data)  # the bytearray as it is: no second copy of the file
    except OSError as error:
        warnings.warn(f"could not keep an inflated copy in {copy.parent}: {error}", stacklevel=3)


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of `array` (uint8, int8, int16, int32, float32 or float64)."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataFormatError(
            f"IDX cannot hold dtype {array.dtype}; expected one of "
            f"{[d.name for d in IDX_DTYPES.values()]}"
        )
    if not 1 <= array.ndim <= 255:
        raise DataFormatError(f"IDX holds 1 to 255 dimensions, got an array of {array.ndim}")
    header = bytes((0, 0, code, array.ndim)) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(IDX_DTYPES[code], copy=False).tobytes(order="C")


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write `array` as an IDX file atomically; gzip-compressed when `path` ends in .gz."""
    path = Path(path)
    data = idx_bytes(array)
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=9, mtime=0)  # mtime 0: same bytes every time
    return write_bytes(path, data)


def _idx_paths(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """The IDX files found in `directory` by canonical name (.gz preferred), and those missing."""
    found, missing = {}, []
    for stem in IDX_FILES:
        for candidate in (directory / f"{stem}.gz", directory / stem):
            if candidate.is_file():
                found[stem] = candidate
                break
        else:
            missing.append(stem)
    return found, missing


def find_idx_files(directory: Path) -> dict[str, Path] | None:
    """The four IDX files by canonical name in `directory` or its torchvision `raw/`, or None."""
    directory = Path(directory)
    for place in (directory, directory / "raw"):
        found, missing = _idx_paths(place)
        if not missing:
            return found
    return None


def _load_split(
    images_path: Path, labels_path: Path, num_classes: int, max_bytes: int, cache_dir: Path | None
) -> Split:
    """One split from an images file (N, H, W) uint8 and a labels file (N,) of integers."""
    images = read_idx(images_path, max_bytes, cache_dir)  # (N, H, W)
    labels = read_idx(labels_path, max_bytes, cache_dir)  # (N,)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataFormatError(
            f"{images_path}: expected uint8 images of shape (N, H, W), got shape "
            f"{images.shape} dtype {images.dtype}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataFormatError(
            f"{labels_path}: expected integer labels of shape (N,), got shape {labels.shape} "
            f"dtype {labels.dtype}"
        )
    if len(images) != len(labels):
        raise DataFormatError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels; they must match"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataFormatError(
            f"{labels_path}: labels range {labels.min()}..{labels.max()}; expected "
            f"0..{num_classes - 1} for {num_classes} classes"
        )
    return Split(images[:, None], labels.astype(np.int64))  # (N, 1, H, W)


def load_idx_dataset(
    directory: Path,
    name: str,
    class_names: Sequence[str],
    max_bytes: int = DEFAULT_MAX_BYTES,
    cache_dir: Path | None = None,
) -> Dataset:
    """Load the train and test splits of an MNIST-like dataset from its four IDX files, none
    of which may hold (or declare) more than `max_bytes`; gzip files are kept inflated in
    `cache_dir` when one is given (`read_idx`)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetNotFoundError(
            f"dataset {name!r}: directory {directory} does not exist; expected it to hold "
            f"{', '.join(f'{stem}.gz' for stem in IDX_FILES)}"
        )
    paths = find_idx_files(directory)
    if paths is None:
        _, missing = _idx_paths(directory)
        raise DatasetNotFoundError(
            f"dataset {name!r}: {directory} (or its raw/ folder) lacks "
            f"{', '.join(missing)} (each as .gz or uncompressed)"
        )
    num_classes = len(class_names)
    splits = {
        split: _load_split(paths[images], paths[labels], num_classes, max_bytes, cache_dir)
        for split, (images, labels) in SPLIT_FILES.items()
    }
    return Dataset(name=name, class_names=tuple(class_names), splits=splits)
