"""Images to predict on, brought to a run's (C, H, W): arrays in either layout, files, folders.

Arrays: (N, C, H, W) or (N, H, W, C) or grayscale (N, H, W); uint8 in 0..255 or float in
[0, 1]. Their (H, W) must be the run's (arrays are never resized); the channel count is
converted between 1 and 3 (RGB -> gray with Pillow's ITU-R 601-2 luminance, gray -> RGB by
replication), any other count is refused. Files are decoded with `decode_image`, which also
converts channels and resizes (shorter side, then centre crop). `invert` turns dark-on-light
images into light-on-dark ones (and back) for a run trained on the other polarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cnnlab.data.images import IMAGE_EXTENSIONS, decode_image_with_header
from cnnlab.errors import DataError, DataFormatError

_LUMA = (19595, 38470, 7471)  # Pillow's convert("L") weights, scaled by 2**16


def to_gray(images: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) -> (N, 1, H, W) luminance; uint8 rounded exactly as Pillow's convert("L")."""
    if images.dtype == np.uint8:
        r, g, b = (images[:, c].astype(np.uint32) for c in range(3))
        luma = (r * _LUMA[0] + g * _LUMA[1] + b * _LUMA[2] + 0x8000) >> 16  # (N, H, W)
        return luma.astype(np.uint8)[:, None]
    weights = np.array([0.299, 0.587, 0.114], dtype=images.dtype).reshape(1, 3, 1, 1)
    return (images * weights).sum(axis=1, keepdims=True)  # (N, 1, H, W)


def _channels_first(images: np.ndarray, in_shape: tuple[int, int, int]) -> np.ndarray:
    """The array as (N, C', H, W), recognising the layout from the run's (H, W)."""
    _, H, W = in_shape
    if images.ndim == 3 and images.shape[1:] == (H, W):
        return images[:, None]  # (N, 1, H, W)
    if images.ndim == 4 and images.shape[2:] == (H, W):
        return images  # (N, C', H, W)
    if images.ndim == 4 and images.shape[1:3] == (H, W):
        return images.transpose(0, 3, 1, 2)  # (N, H, W, C') -> (N, C', H, W)
    raise DataFormatError(
        f"images of shape {images.shape} do not fit the run's input {in_shape} (C, H, W): "
        f"expected (N, C, {H}, {W}), (N, {H}, {W}, C) or (N, {H}, {W}); arrays are not resized, "
        f"so resize them first or pass image files"
    )


def images_from_array(images: np.ndarray, in_shape: tuple[int, int, int]) -> np.ndarray:
    """An image array as (N, C, H, W) of the run's shape: uint8 kept, float checked to be [0, 1]."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating):
            raise DataFormatError(
                f"images must be uint8 (0..255) or float (0..1), got dtype {images.dtype}"
            )
        if images.size and not (
            np.isfinite(images).all() and 0 <= images.min() and images.max() <= 1
        ):
            low, high = np.nanmin(images), np.nanmax(images)
            raise DataFormatError(
                f"float images must lie in [0, 1] without NaN or inf, got {low:g}..{high:g}; "
                f"pass uint8 for 0..255 pixels"
            )
        images = images.astype(np.float32, copy=False)
    if images.shape[0] == 0:
        raise DataFormatError("images: the array holds no image (N = 0)")
    images = _channels_first(images, in_shape)
    C, have = in_shape[0], images.shape[1]
    if have == C:
        return np.ascontiguousarray(images)
    if have == 3 and C == 1:
        return to_gray(images)
    if have == 1 and C == 3:
        return np.ascontiguousarray(np.repeat(images, 3, axis=1))
    raise DataFormatError(
        f"images have {have} channels but the run takes {C}; only 1 <-> 3 channels are converted "
        f"(drop an alpha channel first)"
    )


def image_files(source: Path | str | Sequence[Path | str]) -> list[tuple[str, Path]]:
    """(id, path) of the images to read: a file, a list of files, or every image under a folder.

    A folder is searched recursively, in sorted order, and ids are the paths relative to it;
    files named one by one keep their file name as id.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
            )
            if not found:
                raise DataError(
                    f"no images found under {path} (looked for {' '.join(IMAGE_EXTENSIONS)})"
                )
            return [(p.relative_to(path).as_posix(), p) for p in found]
        source = [path]
    files = [(Path(p).name, Path(p)) for p in source]
    missing = [str(p) for _, p in files if not p.is_file()]
    if missing:
        raise DataError(f"image file(s) not found: {', '.join(missing[:5])}")
    if not files:
        raise DataError("no image files given")
    return files


def images_from_files(
    files: Sequence[Path], in_shape: tuple[int, int, int]
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Decode image files to (N, C, H, W) uint8 of the run's shape (converted and resized), with
    each file's original (H, W)."""
    C, H, W = in_shape
    images = np.empty((len(files), C, H, W), dtype=np.uint8)
    sizes = []
    for i, path in enumerate(files):
        images[i], (size, _) = decode_image_with_header(
            Path(path).read_bytes(), source=str(path), channels=C, size=(H, W)
        )
        sizes.append(size)
    return images, sizes


def invert(images: np.ndarray) -> np.ndarray:
    """Negative images: 255 - pixel for uint8, 1 - value for floats in [0, 1]."""
    return 255 - images if images.dtype == np.uint8 else 1.0 - images
