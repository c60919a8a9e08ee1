"""Images a dataset should not hold, beyond tests/data/test_images.py: a real decompression bomb,
a huge JPEG (decoded small, in little memory), 16-bit colour and grey+alpha PNGs."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from cnnlab.data.images import decode_image
from cnnlab.errors import DataFormatError


def png(width: int, height: int, color_type: int, bit_depth: int, rows) -> bytes:
    """A PNG from its raw scanlines (`rows` yields each row's bytes, filter byte excluded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(b"\x00" + row) for row in rows) + packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def test_a_real_decompression_bomb_is_refused_from_its_header_at_once():
    side = 30_000  # 900 million 1-bit pixels: a few hundred kB on disk
    row = bytes(side // 8)
    bomb = png(side, side, 0, 1, (row for _ in range(side)))
    assert len(bomb) < 300_000
    started = time.perf_counter()
    with pytest.raises(DataFormatError, match=r"bomb\.png.*30000x30000 = 900,000,000 pixels.*bomb"):
        decode_image(bomb, source="bomb.png", channels=1, size=(28, 28))
    assert time.perf_counter() - started < 1.0  # refused from the header, nothing decoded


PEAK_MEMORY = """
import resource, sys
from cnnlab.data.images import decode_image
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = decode_image(data, source="huge.jpg", channels=3, size=(32, 32))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(out.shape, after - before)
"""


def test_a_huge_jpeg_is_decoded_at_a_reduced_scale_in_little_memory(tmp_path):
    width, height = 8000, 6000  # 48 megapixels: 144 MB as RGB if decoded whole
    gradient = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, 0)
    path = tmp_path / "huge.jpg"
    Image.fromarray(gradient).convert("RGB").save(path, quality=70)
    result = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY, str(path)], capture_output=True, text=True, check=True
    )
    shape, grown_kb = result.stdout.split(")")
    assert shape == "(3, 32, 32"
    assert int(grown_kb) < 40_000  # kB: libjpeg decoded at 1/8 scale (1000x750), not 144 MB


def test_sixteen_bit_colour_and_grey_with_alpha_keep_their_high_byte():
    rgb16 = png(2, 1, 2, 16, [struct.pack(">6H", 65535, 32768, 0, 257 * 7, 0, 65535)])
    out = decode_image(rgb16, source="rgb16.png", channels=3, size=(1, 2))
    np.testing.assert_array_equal(out[:, 0, :], [[255, 7], [128, 0], [0, 255]])  # (C, W)

    la16 = png(2, 1, 4, 16, [struct.pack(">4H", 65535, 65535, 65535, 0)])  # grey, alpha
    out = decode_image(la16, source="la16.png", channels=1, size=(1, 2))
    np.testing.assert_array_equal(out, [[[255, 0]]])  # transparent composited onto black


def test_a_png_truncated_inside_its_pixel_data_names_the_file():
    pixels = np.random.default_rng(0).integers(0, 256, (40, 40, 3), np.uint8)  # (H, W, 3)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    data = buffer.getvalue()
    for cut in (len(data) // 2, 60):  # half the pixel data, or no pixel data at all
        with pytest.raises(DataFormatError, match=r"cannot decode cls/x\.png as an image"):
            decode_image(data[:cut], source="cls/x.png", channels=3, size=(40, 40))
    whole = decode_image(data[:-12], source="cls/x.png", channels=3, size=(40, 40))  # no IEND
    np.testing.assert_array_equal(whole, pixels.transpose(2, 0, 1))  # every pixel was there
