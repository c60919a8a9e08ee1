"""Images that stay on disk: chosen rows of a memory-mapped (N, C, H, W) uint8 .npy file.

A `MappedImages` is what a split holds under `data.storage: mmap`. Indexing it (an int, a
slice or an index array) reads just those rows into an ordinary array, so every consumer that
works in batches (evaluation, statistics, figures) works unchanged; `take` makes a smaller
view without reading anything, so subsets and held-out splits never copy the pixels.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

ITER_CHUNK_BYTES = 8 * 2**20  # read at a time when iterating over every image


def gather(base: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`base[rows]` read in ascending row order (sequential on disk), returned in `rows` order.

    When `base` maps a whole .npy file, rows are read with `os.preadv` into the result: on a
    split larger than the memory the process may use, page-faulting the map ran 20x slower
    (237 against 4,905 224x224 images/s read at random under a 1 GiB cgroup limit, issue #24),
    and a read releases the interpreter while it waits.
    """
    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")  # (B,) positions in ascending row order
    out = np.empty((len(rows), *base.shape[1:]), dtype=base.dtype)  # (B, C, H, W)
    source = _whole_file(base)
    if source is None or not len(rows):
        out[order] = base[rows[order]]
        return out
    rows = np.where(rows < 0, rows + len(base), rows)  # NumPy's negative indices
    if rows.min() < 0 or rows.max() >= len(base):
        bad = int(rows[(rows < 0) | (rows >= len(base))][0])
        raise IndexError(f"row {bad} is out of bounds for {len(base)} mapped images")
    path, offset = source
    row_bytes = out[0].nbytes
    with open(path, "rb", buffering=0) as stream:
        for position in order:
            view = memoryview(out[position]).cast("B")
            if os.preadv(stream.fileno(), [view], offset + int(rows[position]) * row_bytes) != (
                row_bytes
            ):
                raise OSError(f"{path}: short read at row {int(rows[position])}")
    return out


def _whole_file(base: np.ndarray) -> tuple[str, int] | None:
    """(path, byte offset of row 0) when `base` is a C-ordered map of a whole .npy file's
    data (what np.load(mmap_mode=...) returns), else None."""
    if not isinstance(base, np.memmap) or not base.flags.c_contiguous or base.filename is None:
        return None
    try:
        size = os.path.getsize(base.filename)
    except OSError:
        return None
    return (str(base.filename), base.offset) if size == base.offset + base.nbytes else None


class MappedImages:
    """Rows `rows` of the memory-mapped array `base`: shape (len(rows), C, H, W), uint8."""

    def __init__(self, base: np.ndarray, rows: np.ndarray | None = None) -> None:
        self.base = base  # (M, C, H, W) uint8, opened with np.load(mmap_mode="r")
        self.rows = np.arange(base.shape[0]) if rows is None else np.asarray(rows, np.int64)
        self.shape = (len(self.rows), *base.shape[1:])
        self.dtype = base.dtype
        self.ndim = base.ndim

    @property
    def nbytes(self) -> int:
        """Bytes these images take once read (none are held)."""
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: int | slice | np.ndarray) -> np.ndarray:
        """The images at `key`, read from disk into memory: (C, H, W) for an int, else (B, ...)."""
        if isinstance(key, (int, np.integer)):
            return np.array(self.base[self.rows[key]])
        return gather(self.base, self.rows[key])

    def __iter__(self) -> Iterator[np.ndarray]:
        step = max(1, ITER_CHUNK_BYTES // max(1, self.nbytes // max(1, len(self))))
        for start in range(0, len(self), step):
            yield from self[start : start + step]

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        """Every image read into memory (what np.asarray does): only for small splits."""
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def take(self, positions: np.ndarray) -> MappedImages:
        """The images at `positions` as another view of the same file: nothing is read."""
        return MappedImages(self.base, self.rows[positions])


def take_rows(
    images: np.ndarray | MappedImages, positions: np.ndarray
) -> np.ndarray | MappedImages:
    """`images[positions]`: a copy of an in-memory array, a view of a mapped one."""
    if isinstance(images, MappedImages):
        return images.take(positions)
    return images[positions]
