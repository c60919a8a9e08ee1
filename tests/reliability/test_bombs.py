"""Decompression bombs are refused quickly in bounded memory (#19): an IDX .gz that inflates
far past what its header declares, and one whose header declares an absurd size. Each is read
in a fresh process so its peak memory (RSS) can be measured."""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

from PIL import Image

PROBE = """
import json, resource, sys
from pathlib import Path
from cnnlab.data.idx import read_idx
from cnnlab.errors import CnnlabError
try:
    read_idx(Path(sys.argv[1]))
    outcome = "read"
except CnnlabError as error:
    outcome = str(error)
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "peak_mib": peak_kib / 1024}))
"""


def probe(path: Path) -> tuple[dict, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), time.perf_counter() - started


def write_bomb(path: Path, header: bytes, zeros: int) -> Path:
    """A gzip file inflating to `header` then `zeros` zero bytes: one member with the header,
    then one 16 MiB member of zeros repeated (gzip readers join members), so it is quick to
    make and a few MB on disk."""
    block = gzip.compress(bytes(16 << 20), compresslevel=9, mtime=0)
    with open(path, "wb") as stream:
        stream.write(gzip.compress(header, mtime=0))
        for _ in range(zeros // (16 << 20)):
            stream.write(block)
    return path


def test_an_idx_gz_inflating_past_its_header_is_refused_fast_and_small(tmp_path):
    header = bytes((0, 0, 0x08, 3)) + struct.pack(">3I", 10, 28, 28)  # declares 7,840 bytes
    bomb = write_bomb(tmp_path / "bomb-images-idx3-ubyte.gz", header, 4 << 30)  # 4 GiB of zeros
    assert bomb.stat().st_size < 8 << 20
    result, seconds = probe(bomb)
    assert "inflates beyond the 7,856 bytes its IDX header declares" in result["outcome"]
    assert seconds < 5 and result["peak_mib"] < 1024, (seconds, result)


def test_an_idx_header_declaring_an_absurd_size_is_refused_before_inflating(tmp_path):
    header = bytes((0, 0, 0x08, 3)) + struct.pack(">3I", 60000, 10000, 10000)  # 6 TB
    bomb = write_bomb(tmp_path / "huge-images-idx3-ubyte.gz", header, 16 << 20)
    result, seconds = probe(bomb)
    assert "its IDX header declares 6,000,000,000,016 bytes" in result["outcome"]
    assert "refused before reading it" in result["outcome"]
    assert seconds < 5 and result["peak_mib"] < 1024, (seconds, result)


ARCHIVE_PROBE = """
import json, resource, sys, time
from pathlib import Path
from cnnlab.data import load_dataset
from cnnlab.errors import CnnlabError
try:
    load_dataset("imagefolder:" + sys.argv[1], offline=True)
    outcome = "read"
except CnnlabError as error:
    outcome = str(error)
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "peak_mib": peak_kib / 1024}))
"""


def archive_probe(path: Path, cache: Path) -> tuple[dict, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", ARCHIVE_PROBE, str(path)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "CNNLAB_CACHE": str(cache)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), time.perf_counter() - started


def test_zip_and_tar_gz_members_that_inflate_far_past_any_image_are_refused_unread(tmp_path):
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    zeros = bytes(256 << 20)  # 256 MiB: a member far bigger than any image
    made = tmp_path / "zip.zip"
    with zipfile.ZipFile(made, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for n in range(2):
            archive.writestr(f"train/cat/{n}.png", png.getvalue())
            archive.writestr(f"test/cat/{n}.png", png.getvalue())
        archive.writestr("train/dog/bomb.png", zeros)
        archive.writestr("test/dog/0.png", png.getvalue())
    tarred = tmp_path / "tar.tar.gz"
    with tarfile.open(tarred, "w:gz", compresslevel=1) as archive:
        for name in ("train/cat/0.png", "test/cat/0.png", "test/dog/0.png"):
            info = tarfile.TarInfo(name)
            info.size = len(png.getvalue())
            archive.addfile(info, io.BytesIO(png.getvalue()))
        info = tarfile.TarInfo("train/dog/bomb.png")
        info.size = len(zeros)
        archive.addfile(info, io.BytesIO(zeros))
    del zeros
    for bomb in (made, tarred):
        assert bomb.stat().st_size < 8 << 20
        result, seconds = archive_probe(bomb, tmp_path / "cache")
        assert "268,435,456 bytes uncompressed" in result["outcome"], result
        assert "refused before reading it" in result["outcome"]
        assert seconds < 5 and result["peak_mib"] < 1024, (bomb.name, seconds, result)
