"""The embedded MNIST sample: the first 2,000 training and 500 test images, IDX gz.

It makes the demo and the end-to-end tests work offline. `build_sample` recreates it from a
full MNIST copy, cutting the canonical IDX files (header counts rewritten, bytes otherwise
identical).
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent
SAMPLE_SIZES = {"train": 2_000, "t10k": 500}


def _cut_idx(source: Path, target: Path, count: int) -> None:
    """Write the first `count` items of an IDX gz file to `target` (gz, fixed mtime)."""
    with gzip.open(source, "rb") as stream:
        raw = stream.read()
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    item_bytes = 1
    for d in dims[1:]:
        item_bytes *= d
    header = raw[:4] + struct.pack(f">{ndim}I", count, *dims[1:])
    payload = raw[4 + 4 * ndim : 4 + 4 * ndim + count * item_bytes]
    temporary = target.with_suffix(target.suffix + ".tmp")
    with (
        open(temporary, "wb") as out,
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as zipped,
    ):
        zipped.write(header + payload)
    os.replace(temporary, target)


def build_sample(mnist_dir: Path, out_dir: Path = SAMPLE_DIR) -> None:
    """Recreate the sample's four IDX gz files from a full MNIST directory."""
    for split, count in SAMPLE_SIZES.items():
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            name = f"{split}-{kind}.gz"
            _cut_idx(Path(mnist_dir) / name, Path(out_dir) / name, count)
