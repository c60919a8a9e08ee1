"""Decode one encoded image (JPEG, PNG, ...) into a fixed-size (C, H, W) uint8 array.

Conversions, chosen so every mode gives a sensible 8-bit picture:
- alpha (RGBA, LA, P with transparency) is composited onto black, so transparent = 0;
- 16-bit (I;16, I;16B, I) is scaled by 255/65535 (rounded), not clipped; `I` is read as 16-bit;
- float (F) is read as 0..1 when its maximum is at most 1, else as 0..255, then clipped;
- channels=1 from colour uses Pillow's luminance (`convert("L")`, ITU-R 601-2);
  channels=3 from grayscale replicates the gray channel.
Resizing uses Pillow's antialiased bilinear filter (triangle kernel widened by the downscale
factor, as torchvision's `antialias=True`), with `reducing_gap=3` (a box pre-reduction whose
result Pillow documents as indistinguishable from exact resampling). Large JPEGs are decoded at
a reduced DCT scale (`Image.draft`) when the target is at most half their size, so memory and
time stay small. An image already at the target size is not resampled (its pixels are kept).
"""

from __future__ import annotations

import io
import math
import re
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Executor, ThreadPoolExecutor

import numpy as np
from PIL import Image

from cnnlab.errors import ConfigError, DataFormatError

IMAGE_EXTENSIONS = (
    ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"
)  # fmt: skip
# how an image folder's pictures are brought to the dataset's (H, W), in words
RESIZE_RULES = {
    "crop": "scaled (bilinear) to cover H×W keeping the aspect ratio, then centre-cropped",
    "stretch": "scaled (bilinear) to exactly H×W, the aspect ratio not kept",
    "pad": "scaled (bilinear) to fit inside H×W keeping the aspect ratio, then zero padded",
}
RESIZE_MODES = tuple(RESIZE_RULES)
DEFAULT_RESIZE = "crop"  # what `cnnlab train` uses for image folders
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own warning limit: ~0.25 GiB of RGBA
Header = tuple[tuple[int, int], str]  # ((H, W), Pillow mode)
GRAYSCALE_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
# Only the parsers for the extensions above are tried (less attack surface than all of Pillow);
# JPEG also yields multi-picture "MPO" files.
_PIL_FORMATS = ("JPEG", "PNG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
DECODE_CHUNK = 256  # images per parallel task: enough to amortise the task overhead
_RESAMPLE = Image.Resampling.BILINEAR
_REDUCING_GAP = 3.0


_OBJECT_REPR = re.compile(r" ?<[\w.]+ object at 0x[0-9a-fA-F]+>")  # Pillow names its BytesIO


def _decode_error(source: str, reason: object) -> DataFormatError:
    text = _OBJECT_REPR.sub("", str(reason))  # never "<_io.BytesIO object at 0x...>"
    return DataFormatError(f"cannot decode {source} as an image: {text}")


def _bomb_error(source: str, width: int, height: int, max_pixels: int) -> DataFormatError:
    return _decode_error(
        source,
        f"its header says {width}x{height} = {width * height:,} pixels, more than the limit of "
        f"{max_pixels:,} (max_pixels); refusing a possible decompression bomb",
    )


def _header_size(data: bytes) -> tuple[int, int] | None:
    """(W, H) from the header, bypassing Pillow's global bomb check (only to word an error)."""
    for fmt in _PIL_FORMATS:
        factory, accept = Image.OPEN.get(fmt, (None, None))
        try:
            accepted = accept is None or accept(data[:16])
            if factory is not None and accepted and not isinstance(accepted, str):
                return factory(io.BytesIO(data), "").size
        except Exception:  # noqa: BLE001 - any parser failure just means "try the next format"
            continue
    return None


def _open(data: bytes, source: str, max_pixels: int) -> Image.Image:
    """Parse the header only; refuse empty data, non-images and images over `max_pixels`."""
    if not data:
        raise _decode_error(source, "the file is empty (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        size = _header_size(data)
        if size is None:
            raise _decode_error(source, f"{e} (max_pixels={max_pixels:,})") from None
        raise _bomb_error(source, *size, max_pixels) from None
    except Exception as e:  # noqa: BLE001 - Pillow raises many types on hostile input
        raise _decode_error(source, f"{type(e).__name__}: {e}") from e
    if img.width < 1 or img.height < 1:
        raise _decode_error(source, f"it has no pixels ({img.width}x{img.height})")
    if img.width * img.height > max_pixels:
        raise _bomb_error(source, img.width, img.height, max_pixels)
    return img


def read_image_size_and_mode(data: bytes, source: str) -> tuple[tuple[int, int], str]:
    """((H, W), Pillow mode) read from the header alone, without decoding pixels."""
    img = _open(data, source, max_pixels=2**62)
    return (img.height, img.width), img.mode


def _check_settings(channels: int, size: tuple[int, int], resize: str) -> None:
    if channels not in (1, 3):
        raise ConfigError(f"channels must be 1 or 3, got {channels!r}")
    if len(size) != 2 or not all(isinstance(d, int) and d >= 1 for d in size):
        raise ConfigError(f"size must be (height, width) with positive ints, got {size!r}")
    if resize not in RESIZE_MODES:
        raise ConfigError(f"resize must be one of {list(RESIZE_MODES)}, got {resize!r}")


def _scale_for(src_w: float, src_h: float, size: tuple[int, int], resize: str) -> float:
    """The resize factor that `resize` applies to a src_w x src_h image for target `size`."""
    H, W = size
    if resize == "crop":
        return max(W / src_w, H / src_h)  # cover the target, then crop the overflow
    return min(W / src_w, H / src_h)  # fit inside (the "pad" case; unused for "stretch")


def _draft_jpeg(img: Image.Image, size: tuple[int, int], resize: str) -> tuple[float, ...]:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers the target.

    Returns the region of the (possibly reduced) image that holds the whole original picture.
    """
    w, h = img.size
    if img.format not in ("JPEG", "MPO") or (h, w) == size:
        return (0, 0, w, h)
    if resize == "stretch":
        need = (size[1], size[0])
    else:
        s = _scale_for(w, h, size, resize)
        need = (max(1, math.ceil(w * s)), max(1, math.ceil(h * s)))
    drafted = img.draft(None, need)
    return tuple(drafted[1]) if drafted else (0, 0, w, h)


def _composite_on_black(arr: np.ndarray) -> np.ndarray:
    """(h, w, K+1) colour + straight alpha -> (h, w, K) composited onto black, rounded."""
    color = arr[..., :-1].astype(np.uint16)
    alpha = arr[..., -1:].astype(np.uint16)
    return ((color * alpha + 127) // 255).astype(np.uint8)


def _to_l_or_rgb(img: Image.Image) -> Image.Image:
    """The image as 8-bit "L" (grayscale sources) or "RGB" (everything else)."""
    mode = img.mode
    if mode in ("L", "RGB"):
        return img
    if mode == "1":
        return img.convert("L")
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in img.info
        return _to_l_or_rgb(img.convert("RGBA" if has_alpha else "RGB"))
    if mode in ("RGBA", "LA"):
        out = _composite_on_black(np.asarray(img))
        return Image.fromarray(out[..., 0] if mode == "LA" else out)
    if mode in ("RGBa", "La"):  # already premultiplied = composited onto black
        out = np.asarray(img)[..., :-1]
        return Image.fromarray(np.ascontiguousarray(out[..., 0] if mode == "La" else out))
    if mode == "I" or mode.startswith("I;16"):
        values = np.clip(np.asarray(img).astype(np.int64), 0, 65535)  # read as 16-bit
        return Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8))
    if mode == "F":
        values = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        if values.max(initial=0.0) <= 1.0:
            values = values * 255.0
        return Image.fromarray(np.rint(np.clip(values, 0, 255)).astype(np.uint8))
    return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


def _resize(
    img: Image.Image, region: tuple[float, ...], size: tuple[int, int], resize: str
) -> Image.Image:
    """Resize the picture inside `region` of `img` to `size` (H, W) the way `resize` says."""
    H, W = size
    if img.size == (W, H) and tuple(region) == (0, 0, W, H):
        return img  # already the right size: keep the exact pixels
    x0, y0, x1, y1 = region
    src_w, src_h = x1 - x0, y1 - y0
    if resize == "stretch":
        return img.resize((W, H), _RESAMPLE, box=region, reducing_gap=_REDUCING_GAP)
    s = _scale_for(src_w, src_h, size, resize)
    if resize == "crop":
        # the source window that maps onto the target, never wider than the picture: W / s
        # can come out a hair above src_w, which made the offset -3e-14 and Pillow refuse it
        box_w, box_h = min(src_w, W / s), min(src_h, H / s)
        left, top = x0 + (src_w - box_w) / 2, y0 + (src_h - box_h) / 2
        box = (left, top, left + box_w, top + box_h)
        return img.resize((W, H), _RESAMPLE, box=box, reducing_gap=_REDUCING_GAP)
    new_w = min(W, max(1, round(src_w * s)))
    new_h = min(H, max(1, round(src_h * s)))
    fitted = img.resize((new_w, new_h), _RESAMPLE, box=region, reducing_gap=_REDUCING_GAP)
    canvas = Image.new(img.mode, (W, H), 0)  # zero padding
    canvas.paste(fitted, ((W - new_w) // 2, (H - new_h) // 2))
    return canvas


def decode_image_with_header(
    data: bytes,
    *,
    source: str,
    channels: int,
    size: tuple[int, int],
    resize: str = DEFAULT_RESIZE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[np.ndarray, tuple[tuple[int, int], str]]:
    """`decode_image` plus the header's ((H, W), mode), so a caller needs no second parse."""
    _check_settings(channels, size, resize)
    img = _open(data, source, max_pixels)
    header = ((img.height, img.width), img.mode)
    try:
        region = _draft_jpeg(img, size, resize)
        img.load()
        img = _to_l_or_rgb(img)
        if channels == 1 and img.mode == "RGB":
            img = img.convert("L")
        img = _resize(img, region, size, resize)
    except Exception as e:  # noqa: BLE001 - truncated / corrupt pixel data
        raise _decode_error(source, f"{type(e).__name__}: {e}") from e
    arr = np.asarray(img)  # (H, W) or (H, W, 3)
    if arr.ndim == 2:
        arr = arr[None]  # (1, H, W)
        if channels == 3:
            arr = np.repeat(arr, 3, axis=0)  # (3, H, W)
    else:
        arr = arr.transpose(2, 0, 1)  # (3, H, W)
    return np.ascontiguousarray(arr, dtype=np.uint8), header


def decode_image(
    data: bytes,
    *,
    source: str,
    channels: int,
    size: tuple[int, int],
    resize: str = DEFAULT_RESIZE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Decode encoded image bytes into a (channels, H, W) uint8 array of `size` (H, W).

    resize: "crop" scales the shorter side to fit then centre-crops (the usual eval transform),
    "stretch" scales to exactly (H, W), "pad" fits inside and pads with zeros. `source` names
    the file in errors; images whose header claims more than `max_pixels` are refused.
    """
    arr, _ = decode_image_with_header(
        data, source=source, channels=channels, size=size, resize=resize, max_pixels=max_pixels
    )
    return arr


def _decode_chunk(
    chunk: list[tuple[int, str, bytes]], channels: int, size: tuple[int, int], resize: str,
    max_pixels: int,
) -> tuple[list[int], np.ndarray, list[Header | None], list[str | None]]:  # fmt: skip
    """Decode (index, source, bytes) items: indices, (B, C, H, W) images, headers, errors."""
    out = np.zeros((len(chunk), channels, *size), np.uint8)  # (B, C, H, W)
    headers: list[Header | None] = [None] * len(chunk)
    errors: list[str | None] = [None] * len(chunk)
    for k, (_, source, data) in enumerate(chunk):
        try:
            out[k], headers[k] = decode_image_with_header(
                data, source=source, channels=channels, size=size, resize=resize,
                max_pixels=max_pixels,
            )  # fmt: skip
        except DataFormatError as e:
            errors[k] = str(e)
    return [i for i, _, _ in chunk], out, headers, errors


def _make_executor(workers: int) -> Executor:
    """Threads: Pillow releases the GIL while decoding, and threads need no pickling."""
    return ThreadPoolExecutor(workers)


def decode_many(
    chunks: Iterable[list[tuple[int, str, bytes]]],
    n: int,
    *,
    channels: int,
    size: tuple[int, int],
    resize: str = DEFAULT_RESIZE,
    workers: int = 1,
    stop_on_error: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, list[Header | None], list[str | None]]:
    """Decode `n` images arriving as chunks of (index, source, bytes), on `workers` threads.

    Returns (n, C, H, W) uint8 images and, per index, the header ((H, W), mode) and the error
    message (None when it decoded; its image stays zero). With `stop_on_error`, the first bad
    image raises its DataFormatError instead. Only 2 * workers chunks are held at once.
    `out`, a zeroed (n, C, H, W) uint8 array (a file mapped for writing, say), receives the
    images instead of a new array, so a split larger than memory streams onto disk.
    """
    _check_settings(channels, size, resize)
    images = np.zeros((n, channels, *size), np.uint8) if out is None else out  # (N, C, H, W)
    headers: list[Header | None] = [None] * n
    errors: list[str | None] = [None] * n

    def collect(result: tuple) -> None:
        indices, out, chunk_headers, chunk_errors = result
        for k, i in enumerate(indices):
            if chunk_errors[k] is not None and stop_on_error:
                raise DataFormatError(chunk_errors[k])
            images[i], headers[i], errors[i] = out[k], chunk_headers[k], chunk_errors[k]

    options = (channels, size, resize, max_pixels)
    if workers <= 1 or n <= DECODE_CHUNK:
        for chunk in chunks:
            collect(_decode_chunk(chunk, *options))
        return images, headers, errors
    pool = _make_executor(workers)
    try:
        pending: deque = deque()
        for chunk in chunks:
            pending.append(pool.submit(_decode_chunk, chunk, *options))
            if len(pending) >= 2 * workers:  # bounded memory: a few chunks of bytes in flight
                collect(pending.popleft().result())
        while pending:
            collect(pending.popleft().result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return images, headers, errors
