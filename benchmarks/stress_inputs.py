"""Hostile and odd inputs, measured: decompression bombs and a corpus of real-looking photos.

Bombs (IDX .gz inflating past its header, an IDX header declaring 6 TB, a zip member and a
tar.gz member inflating to 256 MiB of zeros) are each read in a fresh process through
`load_dataset`, which must refuse them with a `CnnlabError`; the table gives the time, the
peak RSS of that process (its VmHWM) and the message. The corpus (--images JPEGs and PNGs,
random sides 50-1200, panoramas and tall strips among them) must decode completely at
32x32, 64x64, 224x224 and each image's own size. Exit status 1 when anything failed.

    python benchmarks/stress_inputs.py [--images 400] [--seed 0]

tests/reliability/test_bombs.py builds its bombs and probes them with the functions here.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ZEROS_BLOCK = 16 << 20  # bytes of zeros per gzip member of an IDX bomb

PROBE = """
import json, resource, sys
from cnnlab.data import load_dataset
from cnnlab.errors import CnnlabError
try:
    load_dataset(sys.argv[1], data_dir=sys.argv[2] or None, offline=True)
    outcome = "read"
except CnnlabError as error:
    outcome = str(error)
# VmHWM is this program's own peak (a new address space at exec); ru_maxrss on Linux keeps
# the forking parent's peak across fork and exec, so a big test runner would show through
try:
    status = open("/proc/self/status").read().split("VmHWM:")[1]
    peak_kib = int(status.split()[0])
except (OSError, IndexError, ValueError):
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "peak_mib": peak_kib / 1024}))
"""


def probe(dataset: str, data_dir: Path | None, cache: Path) -> tuple[dict, float]:
    """Load `dataset` in a fresh process: ({"outcome": "read" or the error, "peak_mib"}, s)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PROBE, dataset, str(data_dir or "")],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "CNNLAB_CACHE": str(cache)},
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"the probe of {dataset} crashed:\n{done.stderr}")
    return json.loads(done.stdout), time.perf_counter() - started


def _png(size: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size)).save(out, "PNG")
    return out.getvalue()


def idx_folder(folder: Path, images_header: bytes, zeros: int) -> Path:
    """An MNIST folder whose train-images .gz inflates to `images_header` then `zeros` zero
    bytes (one gzip member for the header, then 16 MiB members of zeros: gzip readers join
    members, so it is quick to make and a few MB on disk); the other three files are valid."""
    folder.mkdir(parents=True, exist_ok=True)
    block = gzip.compress(bytes(ZEROS_BLOCK), compresslevel=9, mtime=0)
    with open(folder / "train-images-idx3-ubyte.gz", "wb") as stream:
        stream.write(gzip.compress(images_header, mtime=0))
        for _ in range(zeros // ZEROS_BLOCK):
            stream.write(block)
    labels = bytes((0, 0, 0x08, 1)) + struct.pack(">I", 10) + bytes(10)
    images = bytes((0, 0, 0x08, 3)) + struct.pack(">3I", 10, 28, 28) + bytes(7840)
    for name, data in [("train-labels-idx1-ubyte", labels), ("t10k-labels-idx1-ubyte", labels),
                       ("t10k-images-idx3-ubyte", images)]:  # fmt: skip
        (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
    return folder


def idx_overflow_bomb(root: Path) -> Path:
    """Its header declares 10x28x28 bytes; the stream inflates to 4 GiB of zeros."""
    header = bytes((0, 0, 0x08, 3)) + struct.pack(">3I", 10, 28, 28)
    return idx_folder(root / "mnist", header, 4 << 30)


def idx_declared_bomb(root: Path) -> Path:
    """Its header declares 60,000 images of 10,000x10,000 (6 TB)."""
    header = bytes((0, 0, 0x08, 3)) + struct.pack(">3I", 60000, 10000, 10000)
    return idx_folder(root / "mnist", header, ZEROS_BLOCK)


MEMBER_BOMB_BYTES = 256 << 20  # a member far bigger than any image


def zip_bomb(root: Path) -> Path:
    """An image-folder zip: a few 8x8 PNGs and one member inflating to 256 MiB of zeros."""
    path = root / "photos.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in ("train/cat/0.png", "train/cat/1.png", "test/cat/0.png", "test/dog/0.png"):
            archive.writestr(name, _png())
        archive.writestr("train/dog/bomb.png", bytes(MEMBER_BOMB_BYTES))
    return path


def tar_bomb(root: Path) -> Path:
    """The same as a .tar.gz: the 256 MiB member's tar header declares its size."""
    path = root / "photos.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        members = [(n, _png()) for n in ("train/cat/0.png", "test/cat/0.png", "test/dog/0.png")]
        for name, data in [*members, ("train/dog/bomb.png", bytes(MEMBER_BOMB_BYTES))]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


# name -> (builder of the bomb under a folder, how it is named to load_dataset)
BOMBS = {
    "IDX .gz inflating past its header (4 GiB)": (idx_overflow_bomb, "mnist"),
    "IDX header declaring 6 TB": (idx_declared_bomb, "mnist"),
    "zip member of 256 MiB zeros": (zip_bomb, "imagefolder"),
    "tar.gz member of 256 MiB zeros": (tar_bomb, "imagefolder"),
}


def probe_bomb(name: str, root: Path) -> tuple[dict, float, int]:
    """Build bomb `name` under `root` and probe it: (result, seconds, bytes on disk)."""
    build, dataset = BOMBS[name]
    made = build(root)
    on_disk = sum(p.stat().st_size for p in ([made] if made.is_file() else made.iterdir()))
    if dataset == "imagefolder":
        return (*probe(f"imagefolder:{made}", None, root / "cache"), on_disk)
    return (*probe(dataset, root, root / "cache"), on_disk)


def corpus(count: int, seed: int) -> list[tuple[str, bytes, tuple[int, int]]]:
    """(name, encoded bytes, (H, W)) of `count` JPEGs and PNGs with sides 50-1200; one in four
    is a panorama or a tall strip."""
    rng = np.random.default_rng(seed)
    made = []
    for i in range(count):
        h, w = (int(v) for v in rng.integers(50, 1201, 2))
        if i % 4 == 0:
            ratio = int(rng.integers(3, 8))
            h, w = (max(50, w // ratio), w) if i % 8 == 0 else (h, max(50, h // ratio))
        ys, xs = np.indices((h, w))  # smooth content with noise: photo-like, quick to encode
        noise = rng.integers(0, 24, (h, w), dtype=np.uint8)
        pixels = np.stack([xs * 255 // w, ys * 255 // h, (xs + ys) % 256 ^ noise], -1)
        fmt = "JPEG" if i % 2 else "PNG"
        out = io.BytesIO()
        quality = int(rng.integers(60, 96))  # JPEG; PNG: the fastest compression
        Image.fromarray(pixels.astype(np.uint8)).save(out, fmt, quality=quality, compress_level=1)
        made.append((f"{i:04d}.{fmt.lower()}", out.getvalue(), (h, w)))
    return made


def decode_corpus(images: list[tuple[str, bytes, tuple[int, int]]]) -> dict[str, tuple]:
    """Per target size: (decoded, refusals as 'name: message', seconds)."""
    from cnnlab.data.images import decode_image
    from cnnlab.errors import CnnlabError

    results = {}
    for label in ("32x32", "64x64", "224x224", "native"):
        refused, started = [], time.perf_counter()
        for name, data, native in images:
            size = native if label == "native" else tuple(map(int, label.split("x")))
            try:
                out = decode_image(data, source=name, channels=3, size=size)
                if out.shape != (3, *size):
                    refused.append(f"{name}: shape {out.shape}, expected {(3, *size)}")
            except CnnlabError as error:
                refused.append(f"{name}: {error}")
        results[label] = (len(images) - len(refused), refused, time.perf_counter() - started)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=400, help="corpus size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    failed = False
    print("| bomb | on disk | outcome | time | peak RSS |\n| --- | ---: | --- | ---: | ---: |")
    for name in BOMBS:
        with tempfile.TemporaryDirectory() as tmp:
            result, seconds, on_disk = probe_bomb(name, Path(tmp))
        refused = result["outcome"] != "read"
        failed |= not refused or seconds > 5 or result["peak_mib"] > 1024
        said = result["outcome"].replace(tmp, "…")[:110] if refused else "READ (not refused)"
        print(f"| {name} | {on_disk / 1e6:.2f} MB | {said} | {seconds:.2f} s | "
              f"{result['peak_mib']:.0f} MiB |")  # fmt: skip
    started = time.perf_counter()
    images = corpus(args.images, args.seed)
    jpegs = sum(name.endswith(".jpeg") for name, _, _ in images)
    print(f"\ncorpus: {len(images)} images ({jpegs} JPEG, {len(images) - jpegs} PNG), sides "
          f"50-1200, made in {time.perf_counter() - started:.1f} s\n")  # fmt: skip
    print("| target size | decoded | refused | time |\n| --- | ---: | ---: | ---: |")
    for label, (decoded, refused, seconds) in decode_corpus(images).items():
        failed |= bool(refused)
        print(f"| {label} | {decoded} | {len(refused)} | {seconds:.1f} s |")
        for line in refused[:5]:
            print(f"    {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
