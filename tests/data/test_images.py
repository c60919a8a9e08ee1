"""decode_image: every Pillow mode, the three resize modes, JPEG draft, bombs and broken files."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from cnnlab.data.images import IMAGE_EXTENSIONS, decode_image, read_image_size_and_mode
from cnnlab.errors import ConfigError, DataFormatError


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def random_rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)  # (H, W, 3)


def chw(arr: np.ndarray) -> np.ndarray:
    """(H, W, C) or (H, W) -> (C, H, W)."""
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature and IHDR claiming width x height RGB, with a token IDAT: a bomb header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("resize", ["crop", "stretch", "pad"])
def test_matching_size_keeps_exact_pixels(resize):
    pixels = random_rgb(30, 40)
    out = decode_image(
        encode(Image.fromarray(pixels), "PNG"), source="a.png", channels=3, size=(30, 40),
        resize=resize,
    )  # fmt: skip
    assert out.dtype == np.uint8 and out.shape == (3, 30, 40)
    np.testing.assert_array_equal(out, chw(pixels))


def test_grayscale_to_three_channels_replicates_and_rgb_to_one_uses_luminance():
    gray = random_rgb(8, 8)[..., 0]
    out = decode_image(encode(Image.fromarray(gray), "PNG"), source="g", channels=3, size=(8, 8))
    np.testing.assert_array_equal(out, np.stack([gray] * 3))
    rgb = Image.fromarray(random_rgb(8, 8))
    out = decode_image(encode(rgb, "PNG"), source="c", channels=1, size=(8, 8))
    np.testing.assert_array_equal(out, chw(np.asarray(rgb.convert("L"))))


def test_alpha_is_composited_onto_black():
    rgba = np.random.default_rng(1).integers(0, 256, (6, 7, 4), dtype=np.uint8)
    rgba[0, 0, 3], rgba[0, 1, 3] = 0, 255  # fully transparent, fully opaque
    out = decode_image(encode(Image.fromarray(rgba), "PNG"), source="a", channels=3, size=(6, 7))
    expected = (rgba[..., :3].astype(np.uint16) * rgba[..., 3:] + 127) // 255
    np.testing.assert_array_equal(out, chw(expected.astype(np.uint8)))
    assert (out[:, 0, 0] == 0).all()
    np.testing.assert_array_equal(out[:, 0, 1], rgba[0, 1, :3])

    la = Image.fromarray(rgba[..., [0, 3]], "LA")
    out = decode_image(encode(la, "PNG"), source="la", channels=1, size=(6, 7))
    expected = (rgba[..., 0].astype(np.uint16) * rgba[..., 3] + 127) // 255
    np.testing.assert_array_equal(out[0], expected.astype(np.uint8))


def test_palette_with_and_without_transparency():
    rgb = Image.fromarray(random_rgb(10, 10))
    palette = rgb.convert("P")
    out = decode_image(encode(palette, "PNG"), source="p", channels=3, size=(10, 10))
    np.testing.assert_array_equal(out, chw(np.asarray(palette.convert("RGB"))))

    transparent = int(np.asarray(palette)[0, 0])  # this palette index becomes transparent
    data = encode(palette, "PNG", transparency=transparent)
    out = decode_image(data, source="pt", channels=3, size=(10, 10))
    index = np.asarray(palette)
    np.testing.assert_array_equal(out[:, index == transparent], 0)
    keep = index != transparent
    np.testing.assert_array_equal(out[:, keep], chw(np.asarray(palette.convert("RGB")))[:, keep])


def test_bilevel_and_cmyk_jpeg():
    bilevel = Image.fromarray(random_rgb(9, 9)[..., 0] > 127)
    out = decode_image(encode(bilevel, "PNG"), source="1", channels=1, size=(9, 9))
    np.testing.assert_array_equal(out[0], np.asarray(bilevel).astype(np.uint8) * 255)

    data = encode(Image.fromarray(random_rgb(16, 16)).convert("CMYK"), "JPEG", quality=95)
    out = decode_image(data, source="cmyk.jpg", channels=3, size=(16, 16))
    np.testing.assert_array_equal(out, chw(np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))))


@pytest.mark.parametrize("mode,fmt", [("I;16", "PNG"), ("I;16B", "TIFF"), ("I", "TIFF")])
def test_sixteen_bit_is_scaled_not_clipped(mode, fmt):
    values = np.array([[0, 256, 32767, 65535], [1000, 40000, 65280, 128]], dtype=np.int64)
    dtype = {"I;16": "<u2", "I;16B": ">u2", "I": "<i4"}[mode]
    img = Image.frombytes(mode, (4, 2), values.astype(dtype).tobytes())
    data = encode(img, fmt)
    assert read_image_size_and_mode(data, "x")[1] in ("I;16", "I;16B", "I")
    out = decode_image(data, source="deep", channels=1, size=(2, 4))
    np.testing.assert_array_equal(out[0], (values * 255 + 32767) // 65535)
    assert out.max() == 255  # a clip to 8 bits would have saturated most values instead


def test_float_images_read_as_unit_range_or_clipped():
    unit = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    out = decode_image(encode(Image.fromarray(unit), "TIFF"), source="f", channels=1, size=(1, 3))
    np.testing.assert_array_equal(out[0], [[0, 128, 255]])
    wide = np.array([[-5.0, 100.4, 300.0]], dtype=np.float32)
    out = decode_image(encode(Image.fromarray(wide), "TIFF"), source="f", channels=1, size=(1, 3))
    np.testing.assert_array_equal(out[0], [[0, 100, 255]])


@pytest.mark.parametrize("fmt", ["BMP", "GIF", "WEBP", "PPM", "TIFF"])
def test_other_formats_decode(fmt):
    img = Image.fromarray(random_rgb(12, 10))
    data = encode(img, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    out = decode_image(data, source=f"x.{fmt}", channels=3, size=(12, 10))
    np.testing.assert_array_equal(out, chw(np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))))


def test_crop_takes_the_centre_at_scale_one():
    pixels = random_rgb(30, 40)
    data = encode(Image.fromarray(pixels), "PNG")
    out = decode_image(data, source="wide", channels=3, size=(30, 30), resize="crop")
    np.testing.assert_array_equal(out, chw(pixels[:, 5:35]))


def test_crop_keeps_the_centre_when_downscaling():
    halves = np.zeros((32, 64, 3), np.uint8)
    halves[:, :32] = (255, 0, 0)
    halves[:, 32:] = (0, 0, 255)
    data = encode(Image.fromarray(halves), "PNG")
    out = decode_image(data, source="h", channels=3, size=(16, 16))
    assert (out[0, :, :7] == 255).all() and (out[2, :, 9:] == 255).all()
    assert (out[2, :, :7] == 0).all() and (out[0, :, 9:] == 0).all()


def test_pad_fits_inside_and_pads_with_zeros():
    white = np.full((32, 64, 3), 255, np.uint8)
    out = decode_image(encode(Image.fromarray(white), "PNG"), source="w", channels=3, size=(32, 32),
                       resize="pad")  # fmt: skip
    assert (out[:, 8:24] == 255).all()
    assert (out[:, :8] == 0).all() and (out[:, 24:] == 0).all()


def test_stretch_fills_the_target():
    white = np.full((30, 40, 3), 200, np.uint8)
    data = encode(Image.fromarray(white), "PNG")
    out = decode_image(data, source="s", channels=3, size=(15, 50), resize="stretch")
    assert out.shape == (3, 15, 50) and (out == 200).all()


def test_large_jpeg_is_decoded_at_reduced_scale(monkeypatch):
    y, x = np.mgrid[0:1024, 0:1536]
    smooth = np.stack([x / 6, y / 4, (x + y) / 10], axis=-1).astype(np.uint8)  # (1024, 1536, 3)
    data = encode(Image.fromarray(smooth), "JPEG", quality=95)
    scales = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        scales.append(self.decoderconfig[0])
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    out = decode_image(data, source="big.jpg", channels=3, size=(64, 64))
    assert scales == [8]  # 1536x1024 covers 96x64 at 1/8 scale
    reference = np.asarray(
        Image.open(io.BytesIO(data)).resize((64, 64), Image.Resampling.BILINEAR,
                                            box=(256, 0, 1280, 1024))
    )  # fmt: skip
    assert np.abs(out.astype(int) - chw(reference).astype(int)).mean() < 2.0


def test_bomb_header_is_refused_before_decoding():
    limit_before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(DataFormatError, match=r"bomb\.png.*100000x100000"):
        decode_image(png_header_only(100_000, 100_000), source="bomb.png", channels=3, size=(8, 8))
    data = encode(Image.fromarray(random_rgb(30, 40)), "PNG")
    with pytest.raises(DataFormatError, match=r"small\.png.*40x30 = 1,200 pixels.*max_pixels"):
        decode_image(data, source="small.png", channels=3, size=(8, 8), max_pixels=1000)
    assert Image.MAX_IMAGE_PIXELS == limit_before


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"", "empty"),
        (b"this is not an image at all", "cannot identify"),
        (png_header_only(16, 16), "truncated"),
    ],
    ids=["zero-bytes", "text", "no-pixel-data"],
)
def test_broken_payloads_name_the_source(data, reason):
    with pytest.raises(DataFormatError, match=rf"cannot decode cls/x\.png as an image: .*{reason}"):
        decode_image(data, source="cls/x.png", channels=3, size=(8, 8))


def test_truncated_jpeg_and_png_are_refused():
    jpeg = encode(Image.fromarray(random_rgb(64, 64)), "JPEG")
    png = encode(Image.fromarray(random_rgb(64, 64)), "PNG")
    for source, data in [("t.jpg", jpeg[: len(jpeg) // 2]), ("t.png", png[: len(png) // 2])]:
        with pytest.raises(DataFormatError, match=rf"cannot decode {source}"):
            decode_image(data, source=source, channels=3, size=(64, 64))


def test_bad_settings_raise_config_errors():
    data = encode(Image.fromarray(random_rgb(4, 4)), "PNG")
    with pytest.raises(ConfigError, match="channels must be 1 or 3"):
        decode_image(data, source="x", channels=2, size=(4, 4))
    with pytest.raises(ConfigError, match="resize must be one of"):
        decode_image(data, source="x", channels=3, size=(4, 4), resize="zoom")
    with pytest.raises(ConfigError, match="size must be"):
        decode_image(data, source="x", channels=3, size=(0, 4))


def test_header_read_gives_height_width_and_mode():
    data = encode(Image.fromarray(random_rgb(30, 40)).convert("L"), "JPEG")
    assert read_image_size_and_mode(data, "x.jpg") == ((30, 40), "L")
    assert ".jpg" in IMAGE_EXTENSIONS and ".pgm" in IMAGE_EXTENSIONS


def test_a_500x335_photo_among_500x375_ones_decodes_at_every_size():
    """#19: the centre-crop box came out a hair negative (-3e-14) and Pillow refused it."""
    photo = encode(Image.fromarray(random_rgb(335, 500, seed=3)), "JPEG", quality=90)
    for size in ((32, 32), (64, 64), (224, 224), (375, 500)):
        out = decode_image(photo, source="p.jpg", channels=3, size=size)
        assert out.shape == (3, *size)


def test_a_non_image_is_refused_without_python_object_reprs():
    with pytest.raises(DataFormatError) as refused:
        decode_image(b"plain text, not pixels", source="notes.jpg", channels=3, size=(8, 8))
    message = str(refused.value)
    assert message.startswith("cannot decode notes.jpg as an image:")
    assert "object at 0x" not in message and "BytesIO" not in message
