"""Batched augmentation: TrivialAugment, random crop/shift, flip, cutout and random erasing.

Everything runs on the device the batch is on, with per-image random parameters drawn from a
`torch.Generator` on that device, and no Python loop over images. TrivialAugment
(`data.trivial_augment`) runs first, as in torchvision-style pipelines; a shift (pad-and-crop
or translate) and a flip are one gather from the zero-padded batch; cutout is one broadcast
mask multiplied in; random erasing (Zhong et al. 2017) runs last, one noise-filled rectangle
per chosen image, through one mask.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from cnnlab.data.trivial_augment import TRIVIAL_OPS, trivial_augment
from cnnlab.errors import ConfigError, DataFormatError

_TOKEN = re.compile(r"(crop|translate|cutout|erase)(\d+)")
_ALLOWED_TOKENS = "trivial, crop<N>, translate<N>, flip, cutout<N>, erase<P>, none"
_TOKEN_FIELDS = {
    "crop": "crop_padding",
    "translate": "translate",
    "cutout": "cutout",
    "erase": "erase",
}
_FLAGS = ("flip", "trivial")  # tokens without a number
_FLAG_WITH_NUMBER = re.compile(rf"({'|'.join(_FLAGS)})\d+")
ERASE_AREA = (0.02, 0.33)  # random erasing: erased fraction of the image, as torchvision
ERASE_RATIO = (0.3, 3.3)  # and height/width, drawn log-uniform
_ERASE_TRIES = 10  # draws of (area, ratio) per image until the rectangle fits


@dataclass(frozen=True)
class AugmentSpec:
    """Which random augmentations to apply to each training image; the default does nothing."""

    crop_padding: int = 0  # pixels of zero padding before a random crop of the original size
    flip: bool = False  # random horizontal flip, probability 1/2
    translate: int = 0  # random shift of up to +-translate pixels, zero filled
    cutout: int = 0  # side in pixels of a square zeroed at a random centre
    trivial: bool = False  # TrivialAugment: one random op at a random strength, before the rest
    erase: int = 0  # random erasing: percent of images (0..100) that get a noise rectangle

    def __post_init__(self) -> None:
        for name in ("crop_padding", "translate", "cutout"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"augment {name} must be an integer >= 0 pixels, got {value!r}")
        for name in _FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"augment {name} must be true or false, got {getattr(self, name)!r}"
                )
        erase = self.erase
        if not isinstance(erase, int) or isinstance(erase, bool) or not 0 <= erase <= 100:
            raise ConfigError(
                f"augment erase must be an integer percentage in 0..100 (the probability that "
                f"an image is erased), got {erase!r}"
            )
        if self.crop_padding and self.translate:
            raise ConfigError(
                f"augment crop_padding ({self.crop_padding}) and translate ({self.translate}) "
                f"are the same zero-filled random shift; set only one of them"
            )

    @property
    def is_identity(self) -> bool:
        """True when the spec leaves every image unchanged."""
        return not any(getattr(self, field.name) for field in fields(self))

    @property
    def shift(self) -> int:
        """Largest shift in pixels, from either crop_padding or translate."""
        return self.crop_padding or self.translate

    @classmethod
    def from_string(cls, text: str) -> AugmentSpec:
        """Parse the compact form, e.g. "crop4,flip,cutout8" ("" or "none" for no augmentation)."""
        values: dict[str, int | bool] = {}
        for raw in text.split(","):
            token = raw.strip().lower()
            if token in ("", "none"):
                continue
            match = _TOKEN.fullmatch(token)
            if token in _FLAGS:
                name, value = token, True
            elif match:
                name, value = _TOKEN_FIELDS[match.group(1)], int(match.group(2))
                if name == "erase" and not 1 <= value <= 100:
                    raise ConfigError(
                        f"augment: token {raw.strip()!r} in {text!r}: erase<P> takes a "
                        f"percentage P in 1..100 (e.g. erase25 erases 25% of the images)"
                    )
            elif _FLAG_WITH_NUMBER.fullmatch(token):
                raise ConfigError(
                    f"augment: token {raw.strip()!r} in {text!r}: {', '.join(_FLAGS)} take no "
                    f"number; allowed tokens are {_ALLOWED_TOKENS}"
                )
            else:
                raise ConfigError(
                    f"augment: unknown token {raw.strip()!r} in {text!r}; allowed tokens are "
                    f"{_ALLOWED_TOKENS}"
                )
            if name in values:
                raise ConfigError(f"augment: {name} is given twice in {text!r}")
            values[name] = value
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> AugmentSpec:
        """Build from a mapping of field names (as in a YAML config); unknown keys raise."""
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ConfigError(f"augment: unknown key(s) {unknown}; allowed keys are {allowed}")
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def parse(cls, value: AugmentSpec | str | Mapping[str, object] | None) -> AugmentSpec:
        """An AugmentSpec from any of the forms a config or the CLI may hold."""
        if value is None:
            return cls()
        if isinstance(value, AugmentSpec):
            return value
        if isinstance(value, str):
            return cls.from_string(value)
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        raise ConfigError(
            f"augment must be a string like 'crop4,flip' or a mapping of "
            f"{[f.name for f in fields(cls)]}, got {type(value).__name__}"
        )

    def to_string(self) -> str:
        """The compact form that `from_string` reads back ("none" for no augmentation)."""
        tokens = ["trivial"] if self.trivial else []  # in the order they are applied
        tokens += [f"crop{self.crop_padding}"] if self.crop_padding else []
        tokens += [f"translate{self.translate}"] if self.translate else []
        tokens += ["flip"] if self.flip else []
        tokens += [f"cutout{self.cutout}"] if self.cutout else []
        tokens += [f"erase{self.erase}"] if self.erase else []
        return ",".join(tokens) or "none"

    def describe(self) -> str:
        """In words, for a report: what happens to each training image, in order."""
        parts = [
            f"first TrivialAugment (one op drawn uniformly from {', '.join(TRIVIAL_OPS)}, at a "
            f"uniformly random strength)"
        ] * self.trivial
        parts += [f"a random crop after {self.crop_padding} pixels of zero padding"] * bool(
            self.crop_padding
        )
        parts += [f"a random shift of up to ±{self.translate} pixels, zero filled"] * bool(
            self.translate
        )
        parts += ["a random horizontal flip (probability 1/2)"] * self.flip
        parts += [f"a {self.cutout}×{self.cutout} square zeroed at a random place"] * bool(
            self.cutout
        )
        lo, hi = ERASE_AREA
        parts += [
            f"last, random erasing: with probability {self.erase / 100:g}, a rectangle of "
            f"{lo:g}–{hi:g} of the image filled with uniform noise"
        ] * bool(self.erase)
        if not parts:
            return "none: training images are used as they are"
        return f"{'; '.join(parts)} (`{self.to_string()}`, training batches only)"


def augment_batch(
    images: torch.Tensor, spec: AugmentSpec, generator: torch.Generator
) -> torch.Tensor:
    """Augmented copy of `images` (B, C, H, W), uint8 or float, with per-image random draws.

    `generator` must live on the images' device. The input is never modified; an identity
    spec returns it as it is. Draws happen in a fixed order (trivial, shift, flip, cutout,
    erase), so a seeded generator gives the same batch every time. `trivial` needs uint8.
    """
    if images.ndim != 4:
        raise DataFormatError(
            f"augment_batch expects images of shape (B, C, H, W), got {tuple(images.shape)}"
        )
    if generator.device.type != images.device.type:
        raise ConfigError(
            f"augment_batch: the generator is on {generator.device} but the images are on "
            f"{images.device}; pass torch.Generator(device=images.device)"
        )
    if spec.is_identity:
        return images
    B, C, H, W = images.shape
    draw = {"generator": generator, "device": images.device}
    if spec.trivial:
        images = trivial_augment(images, generator)
    p = spec.shift
    offsets = torch.randint(0, 2 * p + 1, (B, 2), **draw) if p else None  # (B, 2) in padded
    flips = torch.randint(0, 2, (B,), **draw).bool() if spec.flip else None  # (B,)
    out = images
    if p:
        out = _shift_and_flip(images, offsets, flips, p)
    elif spec.flip:
        out = torch.where(flips[:, None, None, None], images.flip(-1), images)
    if spec.cutout:
        centres = torch.stack(
            [torch.randint(0, H, (B,), **draw), torch.randint(0, W, (B,), **draw)], dim=1
        )  # (B, 2) as (row, col)
        out = out * _cutout_keep(centres, spec.cutout, H, W)  # a multiply beats masked_fill
    if spec.erase:
        out = random_erase(out, spec.erase / 100, generator)
    return out


def erase_boxes(
    B: int, H: int, W: int, probability: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random-erasing rectangles: (B,) bool chosen, (B, 4) int64 (top, left, height, width).

    An image is chosen with `probability`; its rectangle covers ERASE_AREA of the image with
    log-uniform ERASE_RATIO, the first of _ERASE_TRIES draws that fits (none fits: not erased).
    """
    draw = {"generator": generator, "device": generator.device}
    chosen = torch.rand(B, **draw) < probability  # (B,)
    lo, hi = ERASE_AREA
    area = (lo + (hi - lo) * torch.rand(B, _ERASE_TRIES, **draw)) * (H * W)  # (B, tries)
    log_lo, log_hi = math.log(ERASE_RATIO[0]), math.log(ERASE_RATIO[1])
    ratio = torch.exp(log_lo + (log_hi - log_lo) * torch.rand(B, _ERASE_TRIES, **draw))
    heights = torch.sqrt(area * ratio).round().long()
    widths = torch.sqrt(area / ratio).round().long()
    fits = (heights >= 1) & (heights < H) & (widths >= 1) & (widths < W)  # (B, tries)
    first = fits.long().argmax(1, keepdim=True)  # (B, 1) the first try that fits
    h, w = heights.gather(1, first)[:, 0], widths.gather(1, first)[:, 0]
    top = (torch.rand(B, **draw) * (H - h + 1)).long().clamp(0, H - 1)
    left = (torch.rand(B, **draw) * (W - w + 1)).long().clamp(0, W - 1)
    return chosen & fits.any(1), torch.stack([top, left, h, w], 1)


def random_erase(
    images: torch.Tensor, probability: float, generator: torch.Generator
) -> torch.Tensor:
    """A copy of (B, C, H, W) with one rectangle per chosen image filled with uniform noise."""
    B, C, H, W = images.shape
    chosen, boxes = erase_boxes(B, H, W, probability, generator)
    draw = {"generator": generator, "device": images.device}
    if images.dtype == torch.uint8:
        noise = torch.randint(0, 256, images.shape, dtype=torch.uint8, **draw)
    else:
        noise = torch.rand(images.shape, dtype=images.dtype, **draw)  # float images in [0, 1]
    top, left, h, w = boxes.unbind(1)  # (B,) each
    rows = torch.arange(H, device=images.device)
    cols = torch.arange(W, device=images.device)
    in_rows = (rows >= top[:, None]) & (rows < (top + h)[:, None])  # (B, H)
    in_cols = (cols >= left[:, None]) & (cols < (left + w)[:, None])  # (B, W)
    erased = in_rows[:, None, :, None] & in_cols[:, None, None, :] & chosen[:, None, None, None]
    return torch.where(erased, noise, images)


def _shift_and_flip(
    x: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor | None, p: int
) -> torch.Tensor:
    """Crop windows at `offsets` (B, 2) of `x` zero-padded by `p`, mirrored where `flips`."""
    B, C, H, W = x.shape
    Wp = W + 2 * p
    padded = F.pad(x, (p, p, p, p))  # (B, C, H + 2p, W + 2p), zeros outside
    rows = offsets[:, 0, None] + torch.arange(H, device=x.device)  # (B, H)
    cols = offsets[:, 1, None] + torch.arange(W, device=x.device)  # (B, W)
    if flips is not None:
        cols = torch.where(flips[:, None], cols.flip(-1), cols)  # read the window right to left
    flat = rows[:, :, None] * Wp + cols[:, None, :]  # (B, H, W) index into a padded image
    index = flat.view(B, 1, H * W).expand(B, C, H * W)
    return padded.reshape(B, C, -1).gather(2, index).view(B, C, H, W)


def _cutout_keep(centres: torch.Tensor, side: int, H: int, W: int) -> torch.Tensor:
    """(B, 1, H, W) bool: False inside a side x side square per image, clipped at the borders."""
    top_left = centres - side // 2  # (B, 2); the square covers [top_left, top_left + side)
    rows = torch.arange(H, device=centres.device)
    cols = torch.arange(W, device=centres.device)
    in_rows = (rows >= top_left[:, :1]) & (rows < top_left[:, :1] + side)  # (B, H)
    in_cols = (cols >= top_left[:, 1:]) & (cols < top_left[:, 1:] + side)  # (B, W)
    return ~(in_rows[:, None, :, None] & in_cols[:, None, None, :])
