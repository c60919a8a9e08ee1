"""The disk cache of decoded image folders: one entry per source, its contents and settings.

An entry is a folder written atomically (a temp folder renamed into place). In memory form it
holds `<split>_images.npy` per split, read whole; in mapped form (`data.storage: mmap`) one
`images.npy` of every decoded image, which decoding streams into and training maps read-only,
and `<split>_rows.npy`, the rows of each split (unreadable images left out).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from cnnlab.data.archive import Container
from cnnlab.data.arrays import Dataset, Split
from cnnlab.data.mapped import MappedImages
from cnnlab.errors import DataError, DataTooLargeError

CACHE_FORMAT_VERSION = 1  # bump when the decoded pixels or the cache files change
MAPPED_IMAGES = "images.npy"  # a mapped entry's (M, C, H, W) uint8 array of every image
_STAMP_BYTES = 64 * 1024  # bytes hashed at each end of an archive for its cache key


def archive_stamp(path: Path) -> list:
    """An archive's identity without listing it: size, mtime and a hash of its two ends.

    The tail holds the gzip CRC-32 of the whole tar, or the zip central directory (every
    member's name, size and CRC), so a rewrite with the same size and mtime still shows.
    """
    st = path.stat()
    with open(path, "rb") as f:
        head = f.read(_STAMP_BYTES)
        f.seek(max(0, st.st_size - _STAMP_BYTES))
        tail = f.read(_STAMP_BYTES)
    return [st.st_size, st.st_mtime_ns, hashlib.sha256(head + tail).hexdigest()]


def folder_stamp(container: Container) -> str:
    """Hash of every member's (name, size, mtime_ns): any touched, added or removed file shows."""
    digest = hashlib.sha256()
    for m in container.members():
        digest.update(f"{m.name}\0{m.size}\0{m.mtime_ns}\n".encode())
    return digest.hexdigest()


def cache_entry(cache_dir: Path, path: Path, stamp: object, request: dict) -> Path:
    """The cache folder for this source, its contents' stamp and the decode settings."""
    key = {"version": CACHE_FORMAT_VERSION, "path": str(path.resolve()), "stamp": stamp}
    text = json.dumps({**key, **request}, sort_keys=True)
    return Path(cache_dir) / "imagefolder" / hashlib.sha256(text.encode()).hexdigest()[:32]


def _meta(entry: Path) -> dict:
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    if meta["format_version"] != CACHE_FORMAT_VERSION:
        raise ValueError("another cache format")
    return meta


def cached_bytes(entry: Path) -> int | None:
    """The decoded size of the images an entry holds (from its meta.json), or None."""
    try:
        return sum(int(np.prod(shape)) for shape in _meta(entry)["splits"].values())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_cache(entry: Path, name: str) -> Dataset | None:
    """The dataset cached in `entry`, or None when it is missing, stale or damaged."""
    try:
        meta = _meta(entry)
        mapped = meta.get("layout") == "mapped"
        base = np.load(entry / MAPPED_IMAGES, mmap_mode="r", allow_pickle=False) if mapped else None
        splits = {}
        for split, shape in meta["splits"].items():
            labels = np.load(entry / f"{split}_labels.npy", allow_pickle=False)
            if base is not None:
                rows = np.load(entry / f"{split}_rows.npy", allow_pickle=False)
                if rows.size and (rows.min() < 0 or rows.max() >= base.shape[0]):
                    return None
                images = MappedImages(base, rows)
            else:
                images = np.load(entry / f"{split}_images.npy", allow_pickle=False)
            if list(images.shape) != shape:
                return None
            splits[split] = Split(images, labels)
        return Dataset(name, tuple(meta["class_names"]), splits, tuple(meta["problems"]))
    except (OSError, EOFError, ValueError, KeyError, TypeError, DataError):
        return None


def _meta_of(dataset: Dataset, source: Path, layout: str) -> dict:
    return {
        "format_version": CACHE_FORMAT_VERSION,
        "layout": layout,
        "source": str(source.resolve()),
        "class_names": list(dataset.class_names),
        "splits": {s: list(d.images.shape) for s, d in dataset.splits.items()},
        "problems": list(dataset.problems),
    }


def write_cache(entry: Path, dataset: Dataset, source: Path) -> None:
    """Write the decoded splits into `entry` atomically: a temp folder renamed into place."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    except OSError as e:
        warnings.warn(f"cannot write the image cache {entry}: {e}", stacklevel=3)
        return
    try:
        for split, data in dataset.splits.items():
            np.save(tmp / f"{split}_images.npy", data.images)
            np.save(tmp / f"{split}_labels.npy", data.labels)
        meta = _meta_of(dataset, source, "memory")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(tmp, entry)  # fails if another process wrote the entry first: theirs stays
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if not entry.exists():  # a full disk or a read-only cache: loading still works
            warnings.warn(f"cannot write the image cache {entry}: {e}", stacklevel=3)


def cached(entry: Path, name: str) -> Dataset | None:
    """The cached dataset; a damaged entry is removed so it can be rebuilt."""
    dataset = _read_cache(entry, name)
    if dataset is None and (entry.exists() or entry.is_symlink()):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return dataset


def _cache_write_error(entry: Path, error: OSError) -> DataTooLargeError:
    return DataTooLargeError(
        f"cannot write the memory-mapped image cache {entry}: {error}; data.storage mmap needs "
        f"room for the decoded images on that disk (point $CNNLAB_CACHE at a bigger one)"
    )


class MappedEntry:
    """A mapped entry being written: `allocate` gives the file decoding streams into, `commit`
    renames the finished folder into place and opens it read-only."""

    def __init__(self, entry: Path) -> None:
        self.entry = entry
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
        except OSError as e:
            raise _cache_write_error(entry, e) from e

    def allocate(self, shape: tuple[int, ...]) -> np.ndarray:
        """A zeroed (M, C, H, W) uint8 file mapped for writing (replacing an earlier one)."""
        try:
            (self.tmp / MAPPED_IMAGES).unlink(missing_ok=True)  # an earlier pass's map stays valid
            return np.lib.format.open_memmap(
                self.tmp / MAPPED_IMAGES, mode="w+", dtype=np.uint8, shape=shape
            )
        except OSError as e:
            self.discard()
            raise _cache_write_error(self.entry, e) from e

    def commit(self, dataset: Dataset, source: Path) -> Dataset:
        """Write each split's rows and labels, rename into place, and map the entry read-only."""
        try:
            for split, data in dataset.splits.items():
                assert isinstance(data.images, MappedImages)
                np.save(self.tmp / f"{split}_rows.npy", data.images.rows)
                np.save(self.tmp / f"{split}_labels.npy", data.labels)
                data.images.base.flush()
            meta = _meta_of(dataset, source, "mapped")
            (self.tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
            os.replace(self.tmp, self.entry)  # another process's finished entry stays
        except OSError as e:
            if not self.entry.exists():
                self.discard()
                raise _cache_write_error(self.entry, e) from e
            self.discard()
        reopened = _read_cache(self.entry, dataset.name)
        if reopened is None:
            raise DataError(f"the memory-mapped image cache {self.entry} could not be read back")
        return Dataset(reopened.name, reopened.class_names, reopened.splits, dataset.problems)

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
