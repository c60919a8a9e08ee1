"""Grids of image panels as one picture: tiles pasted into a mosaic, drawn pixel for pixel.

One Axes per panel costs more than the panel itself, and resampling a large image at 1:1
costs more than copying it; so a grid is one uint8 RGBA array on white, placed at its exact
pixel size, with titles as texts in the mosaic's pixel coordinates (or, where the same title
repeats, drawn once and stamped into the pixels).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.transforms import Affine2D, Transform

from cnnlab.errors import DataFormatError
from cnnlab.visualize.panels import PAD_INCHES, new_figure, text_height, widest
from cnnlab.visualize.save import PNG_DPI

FRAME_GRAY = 40  # a tile's 1-pixel frame, like an axes spine
TITLE_GAP = 3  # pixels between a title and its tile


def rgb_images(images: np.ndarray) -> np.ndarray:
    """uint8 (N, C, H, W) images (or floats in [0, 1]) as uint8 RGB (N, H, W, 3).

    Three channels in colour; one channel, or the mean of other counts, in gray.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise DataFormatError(f"expected (N, C, H, W) images, got shape {images.shape}")
    if images.shape[1] == 3:
        shown = np.moveaxis(images, 1, -1)  # (N, H, W, 3)
    else:
        gray = images[:, 0] if images.shape[1] == 1 else images.mean(axis=1)  # (N, H, W)
        shown = np.repeat(gray[..., None], 3, axis=-1)
    if not np.issubdtype(images.dtype, np.integer):
        shown = np.clip(shown, 0, 1) * 255
    return np.clip(np.round(shown), 0, 255).astype(np.uint8)


def zoom_factor(side: int, target: float) -> int:
    """How to bring `side` pixels near `target`: repeat each pixel f >= 1 times, or (-f) average f x f blocks."""
    if side <= 1.25 * target:
        return max(1, round(target / side))
    return -math.ceil(side / target)


def zoom(images: np.ndarray, factor: int) -> np.ndarray:
    """(N, H, W, ...) images enlarged by repeating pixels (`factor` >= 1) or shrunk by block means."""
    if factor >= 1:
        return images.repeat(factor, axis=1).repeat(factor, axis=2)
    f = -factor
    N, H, W = images.shape[:3]
    h, w = max(1, H // f), max(1, W // f)
    blocks = images[:, : h * f, : w * f].reshape(N, h, f, w, f, *images.shape[3:])
    means = blocks.mean(axis=(2, 4))
    return means.round().astype(images.dtype) if images.dtype.kind in "iu" else means


def mosaic(
    tiles: np.ndarray, columns: int, *, gap: int, band: int = 0, frame: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB tiles (N, h, w, 3) in rows of `columns` on white: (RGBA image, tile corners (N, 2)).

    Tiles sit `gap` pixels apart, below a blank `band` each (for titles); `frame` rings each
    with a 1-pixel gray line (in the gap, so keep it >= 2). The corners are the (x, y) pixel
    of each tile's top left.
    """
    N, h, w = tiles.shape[:3]
    rows = max(1, math.ceil(N / columns))
    width = columns * w + (columns - 1) * gap + 2  # +2: the outer frames
    height = rows * (band + h) + (rows - 1) * gap + 2
    image = np.full((height, width, 4), 255, dtype=np.uint8)  # opaque white, RGBA
    index = np.arange(N)
    corners = np.stack(
        [1 + (index % columns) * (w + gap), 1 + band + (index // columns) * (band + h + gap)], 1
    )
    for (x, y), tile in zip(corners, tiles, strict=True):
        if frame:
            image[y - 1 : y + h + 1, x - 1 : x + w + 1, :3] = FRAME_GRAY
        image[y : y + h, x : x + w, :3] = tile
    return image, corners


class PixelImage(Artist):
    """A uint8 RGB(A) image (H, W, C), top row first, filling a box given in figure inches.

    Raster output at the figure's dpi copies the pixels unchanged (the box is the image's own
    size); at another scale they are resized nearest-neighbour; vector output scales the image.
    """

    def __init__(self, pixels: np.ndarray, box: tuple[float, float, float, float]):
        super().__init__()
        pixels = np.asarray(pixels, dtype=np.uint8)
        upward = np.full(pixels.shape[:2] + (4,), 255, dtype=np.uint8)  # renderers want the
        upward[..., : pixels.shape[2]] = pixels[::-1]  # bottom row first, RGBA
        self._upward = upward
        self.box = box  # left, bottom, right, top in inches

    @property
    def pixels(self) -> np.ndarray:
        """The image as RGBA (H, W, 4), top row first."""
        return self._upward[::-1]

    def draw(self, renderer) -> None:
        if not self.get_visible():
            return
        figure = self.get_figure(root=True)
        left, bottom, right, top = self.box
        (x0, y0), (x1, y1) = figure.dpi_scale_trans.transform([(left, bottom), (right, top)])
        gc = renderer.new_gc()
        upward = self._upward
        if renderer.option_scale_image():  # vector output: the unit square onto the box
            renderer.draw_image(gc, x0, y0, upward, Affine2D().scale(x1 - x0, y1 - y0))
        else:
            H, W = round(y1 - y0), round(x1 - x0)
            if (H, W) != upward.shape[:2]:
                rows = np.arange(H) * upward.shape[0] // max(H, 1)
                upward = upward[rows][:, np.arange(W) * upward.shape[1] // max(W, 1)]
            renderer.draw_image(gc, round(x0), round(y0), upward)
        gc.restore()


def show_mosaic(figure: Figure, image: np.ndarray, left: float, top: float) -> Transform:
    """Draw `image` at its pixel size, top-left corner `left`, `top` inches from the figure's.

    Returns the transform from the image's pixel coordinates (x right, y down) to the figure,
    for texts placed at its tiles.
    """
    H, W = image.shape[:2]
    height = figure.get_figheight()
    box = (left, height - top - H / PNG_DPI, left + W / PNG_DPI, height - top)
    figure.add_artist(PixelImage(image, box))
    pixels = Affine2D().scale(1 / PNG_DPI, -1 / PNG_DPI).translate(left, height - top)
    return pixels + figure.dpi_scale_trans


def text_inks(texts: Sequence[str], points: float, ha: str = "center") -> list[np.ndarray]:
    """Each text drawn by Agg, black on white, as ink (h, w) in [0, 1] to `stamp` where it goes.

    All are drawn in one small figure, a row each; lines align as `ha` says within rows as wide
    as the widest text, the text centred on the row's middle, a pixel of margin all round.
    """
    width = math.ceil(widest(texts, points)) + 2
    heights = [text_height(text.count("\n") + 1, points) + 2 for text in texts]
    figure = new_figure(width / PNG_DPI, max(1, sum(heights)) / PNG_DPI)
    x = {"left": 1, "center": width / 2, "right": width - 1}[ha]
    where = Affine2D().scale(1 / PNG_DPI, -1 / PNG_DPI).translate(0, figure.get_figheight())
    tops = np.cumsum([0, *heights])  # pixels from the top
    for text, top, height in zip(texts, tops, heights, strict=False):
        figure.text(
            x,
            top + height / 2,
            text,
            fontsize=points,
            ha=ha,
            va="center",
            transform=where + figure.dpi_scale_trans,
        )
    figure.canvas.draw()
    ink = 1 - np.asarray(figure.canvas.buffer_rgba())[..., 0] / 255
    return [ink[top : top + height] for top, height in zip(tops, heights, strict=False)]


def stamp(
    image: np.ndarray, ink: np.ndarray, x: int, y: int, colour: Sequence[float] = (0, 0, 0)
) -> None:
    """Paint `colour` (RGB in [0, 1]) with `ink` (h, w) into uint8 RGB(A) `image` at (x, y), its top left."""
    h, w = ink.shape
    x0, y0 = max(x, 0), max(y, 0)
    region = image[y0 : y + h, x0 : x + w, :3]
    cover = ink[y0 - y : y0 - y + region.shape[0], x0 - x : x0 - x + region.shape[1], None]
    region[...] = np.round(region * (1 - cover) + np.asarray(colour) * 255 * cover)


def repeated(texts: Sequence[str], times: int = 3) -> set[str]:
    """The texts that occur at least `times` times (worth drawing once and stamping)."""
    return {text for text, count in Counter(texts).items() if count >= times}


def titled_grid(
    tiles: np.ndarray,
    titles: Sequence[str],
    columns: int,
    *,
    points: float,
    suptitle: str,
    right: float = 0.0,
    gap: int = 6,
    min_width: float = 0.0,
) -> tuple[Figure, tuple[float, float, float, float]]:
    """A figure of uint8 RGB tiles (N, h, w, 3) in rows of `columns`, each under its title.

    `titles` may be empty; columns spread apart when titles are wider than tiles, and titles
    that repeat are stamped into the mosaic (`text_inks`), the others are texts; `suptitle`
    heads the figure, and `right` inches stay free (for a colour bar) in a figure at least
    `min_width` inches wide. Returns the figure and the mosaic's box (x0, y0, width, height)
    in figure fractions.
    """
    h, w = tiles.shape[1:3]
    title_width = max(w, widest(titles, points))
    gap = max(gap, math.ceil(title_width - w) + 6)
    lines = max((title.count("\n") + 1 for title in titles), default=0)
    band = text_height(lines, points) + TITLE_GAP if lines else 0
    image, corners = mosaic(tiles, columns, gap=gap, band=band)
    header = PAD_INCHES + (text_height(suptitle.count("\n") + 1, 10) + 10) / PNG_DPI  # inches
    inches = image.shape[1] / PNG_DPI
    overhang = max(PAD_INCHES, (title_width - w) / 2 / PNG_DPI)  # titles may stick out sideways
    heading = widest([suptitle], 10) / PNG_DPI + 2 * PAD_INCHES
    needed = max(inches + 2 * overhang, heading, min_width - right)
    W, H = needed + right, header + image.shape[0] / PNG_DPI + PAD_INCHES
    once = sorted(repeated(titles))
    inks = dict(zip(once, text_inks(once, points), strict=True))
    for (x, y), title in zip(corners[: len(titles)], titles, strict=True):
        if title in inks:  # drawn once, stamped into the mosaic wherever it repeats
            ink = inks[title]
            stamp(image, ink, x + (w - ink.shape[1]) // 2, y - TITLE_GAP - ink.shape[0])
    figure = new_figure(W, H)
    left = (needed - inches) / 2
    pixels = show_mosaic(figure, image, left, header)
    for (x, y), title in zip(corners[: len(titles)], titles, strict=True):
        if title not in inks:
            figure.text(
                x + w / 2,
                y - 1 - TITLE_GAP,
                title,
                ha="center",
                va="bottom",
                fontsize=points,
                transform=pixels,
            )
    figure.suptitle(
        suptitle, fontsize=10, x=(left + inches / 2) / W, y=1 - PAD_INCHES / H, va="top"
    )
    return figure, (left / W, PAD_INCHES / H, inches / W, image.shape[0] / PNG_DPI / H)
