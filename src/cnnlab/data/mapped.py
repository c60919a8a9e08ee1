"""Images that stay on disk: chosen rows of a memory-mapped (N, C, H, W) uint8 .npy file.

A `MappedImages` is what a split holds under `data.storage: mmap`. Indexing it (an int, a
slice or an index array) reads just those rows into an ordinary array, so every consumer that
works in batches (evaluation, statistics, figures) works unchanged; `take` makes a smaller
view without reading anything, so subsets and held-out splits never copy the pixels.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

ITER_CHUNK_BYTES = 8 * 2**20  # read at a time when iterating over every image


def gather(base: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`base[rows]` read in ascending row order (sequential on disk), returned in `rows` order."""
    rows = np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")  # (B,) positions in ascending row order
    out = np.empty((len(rows), *base.shape[1:]), dtype=base.dtype)  # (B, C, H, W)
    out[order] = base[rows[order]]
    return out


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
