"""TrivialAugment (Müller & Hutter 2021) on whole uint8 batches: one random op per image.

Each image draws one op of `TRIVIAL_OPS` uniformly and a strength uniform in [0, 1) (and a
sign for the signed ops); the ranges are those of torchvision's TrivialAugmentWide, without
its colour-saturation op. The batch is sorted by op once, each colour op runs on its own
images, and every image that drew a geometric op (rotate, shear, translate) goes through one
`grid_sample` (nearest, zero fill). Draws come only from the given generator, in fixed
shapes, so a seeded generator gives the same batch on every call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError, DataFormatError

Colour = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (N,C,H,W) 0..255 float, (N,)
Warp = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # (N,) -> (N,2,2), (N,2)


@dataclass(frozen=True)
class TrivialOp:
    """One op: its strength-to-magnitude map and either a colour function or an inverse warp."""

    magnitude: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # strength [0,1), sign ±1
    colour: Colour | None = None  # float pixel values in 0..255 -> float, rounded by the caller
    warp: Warp | None = None  # magnitude -> inverse map (output pixel -> input pixel), centred


def _none(strength: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(strength)


def _signed(largest: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Magnitude uniform in (-largest, largest): strength times largest, random sign."""
    return lambda strength, sign: strength * largest * sign


def _blend(x: torch.Tensor, other: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """(1 + m) x - m other: m > 0 moves away from `other`, m = -1 gives `other`."""
    factor = (1 + m).view(-1, 1, 1, 1)
    return factor * x + (1 - factor) * other


def brightness(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Scale every pixel by 1 + m (a blend with black)."""
    return _blend(x, torch.zeros_like(x), m)


def contrast(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Blend with the image's mean grey level by 1 + m."""
    if x.shape[1] == 3:  # ITU-R 601 luma, as PIL and torchvision
        grey = torch.tensor([0.2989, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
        mean = (x * grey).sum(1, keepdim=True).mean((-3, -2, -1), keepdim=True)
    else:
        mean = x.mean((-3, -2, -1), keepdim=True)  # (N, 1, 1, 1)
    return _blend(x, mean, m)


def sharpness(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Blend with PIL's smoothing filter (3x3, centre weight 5/13) by 1 + m; borders kept."""
    N, C, H, W = x.shape
    if H < 3 or W < 3:
        return x
    kernel = torch.ones(3, 3, device=x.device)
    kernel[1, 1] = 5
    kernel = (kernel / kernel.sum()).view(1, 1, 3, 3)
    smooth = x.clone()
    inner = F.conv2d(x.reshape(N * C, 1, H, W), kernel).view(N, C, H - 2, W - 2)
    smooth[..., 1:-1, 1:-1] = inner
    return _blend(x, smooth, m)


def posterize(x: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Keep the top `bits` (1..8) bits of every pixel value."""
    step = torch.pow(2.0, 8 - bits).view(-1, 1, 1, 1)
    return torch.floor(x / step) * step


def solarize(x: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Invert (255 - v) every pixel value v >= threshold."""
    return torch.where(x >= threshold.view(-1, 1, 1, 1), 255 - x, x)


def autocontrast(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Stretch each channel linearly so its darkest pixel is 0 and its brightest 255."""
    low = x.amin((-2, -1), keepdim=True)  # (N, C, 1, 1)
    high = x.amax((-2, -1), keepdim=True)
    flat = high == low  # a one-valued channel stays as it is
    scale = torch.where(flat, 1.0, 255 / (high - low).clamp(min=1))
    return (x - torch.where(flat, 0.0, low)) * scale


def equalize(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation per image and channel, as PIL's ImageOps.equalize."""
    N, C, H, W = x.shape
    values = x.reshape(N * C, H * W).long()  # (NC, HW)
    hist = torch.zeros(N * C, 256, dtype=torch.long, device=x.device)
    hist.scatter_add_(1, values, torch.ones_like(values))  # (NC, 256)
    brightest = 255 - (hist > 0).flip(1).long().argmax(1)  # (NC,) highest value present
    step = (H * W - hist.gather(1, brightest[:, None]).squeeze(1)) // 255  # (NC,)
    lut = (hist.cumsum(1) + step[:, None] // 2) // step.clamp(min=1)[:, None]
    lut = F.pad(lut, (1, 0))[:, :256].clamp(0, 255)  # value v maps to the count below v
    mapped = lut.gather(1, values)
    keep = step == 0  # one value, or too few pixels: PIL leaves the channel alone
    return torch.where(keep[:, None], values, mapped).view(N, C, H, W).to(x.dtype)


def _eye(m: torch.Tensor) -> torch.Tensor:
    return torch.eye(2, device=m.device).expand(len(m), 2, 2).clone()


def _no_shift(m: torch.Tensor) -> torch.Tensor:
    return torch.zeros(len(m), 2, device=m.device)


def rotate(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Counter-clockwise by m degrees about the centre (as torch.rot90 for m = 90)."""
    rad = torch.deg2rad(m)
    c, s = torch.cos(rad), torch.sin(rad)
    inverse = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    return inverse, _no_shift(m)  # x right, y down: the output pixel's source


def shear_x(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x' = x + m y about the centre."""
    inverse = _eye(m)
    inverse[:, 0, 1] = -m
    return inverse, _no_shift(m)


def shear_y(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """y' = y + m x about the centre."""
    inverse = _eye(m)
    inverse[:, 1, 0] = -m
    return inverse, _no_shift(m)


def translate_x(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift right by m pixels (zero filled)."""
    return _eye(m), torch.stack([-m, torch.zeros_like(m)], -1)


def translate_y(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift down by m pixels (zero filled)."""
    return _eye(m), torch.stack([torch.zeros_like(m), -m], -1)


TRIVIAL_OPS: dict[str, TrivialOp] = {  # the ranges of torchvision's TrivialAugmentWide
    "identity": TrivialOp(_none, colour=lambda x, m: x),
    "brightness": TrivialOp(_signed(0.99), colour=brightness),
    "contrast": TrivialOp(_signed(0.99), colour=contrast),
    "sharpness": TrivialOp(_signed(0.99), colour=sharpness),
    "posterize": TrivialOp(lambda s, sign: 8 - torch.floor(s * 7), colour=posterize),  # 8..2
    "solarize": TrivialOp(lambda s, sign: 255 * (1 - s), colour=solarize),  # threshold
    "autocontrast": TrivialOp(_none, colour=autocontrast),
    "equalize": TrivialOp(_none, colour=equalize),
    "rotate": TrivialOp(_signed(135.0), warp=rotate),  # degrees
    "shear_x": TrivialOp(_signed(0.99), warp=shear_x),  # x per y
    "shear_y": TrivialOp(_signed(0.99), warp=shear_y),
    "translate_x": TrivialOp(_signed(32.0), warp=translate_x),  # pixels, whatever the size
    "translate_y": TrivialOp(_signed(32.0), warp=translate_y),
}


def _warp(x: torch.Tensor, inverse: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Resample (N, C, H, W) float at inverse @ p + shift (centred pixels): nearest, zero fill."""
    N, C, H, W = x.shape
    half = torch.tensor([W / 2, H / 2], device=x.device)  # pixels per normalised unit, (x, y)
    theta = torch.empty(N, 2, 3, device=x.device)
    theta[:, :, :2] = inverse * half[None, None, :] / half[None, :, None]  # S^-1 A S
    theta[:, :, 2] = shift / half
    grid = F.affine_grid(theta, [N, C, H, W], align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.round().clamp(0, 255).to(torch.uint8)


def _check_uint8(images: torch.Tensor) -> None:
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise DataFormatError(
            f"TrivialAugment needs a uint8 batch (B, C, H, W), got {images.dtype} "
            f"{tuple(images.shape)}"
        )


def apply_op(images: torch.Tensor, name: str, magnitude: float) -> torch.Tensor:
    """Every image of a uint8 batch through op `name` at one magnitude (for tests and figures)."""
    _check_uint8(images)
    if name not in TRIVIAL_OPS:
        raise ConfigError(f"trivial augment: unknown op {name!r}; ops are {list(TRIVIAL_OPS)}")
    op = TRIVIAL_OPS[name]
    m = torch.full((len(images),), float(magnitude), device=images.device)
    x = images.float()
    if op.colour is not None:
        return _to_uint8(op.colour(x, m))
    return _to_uint8(_warp(x, *op.warp(m)))


def trivial_augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A copy of the uint8 batch (B, C, H, W) with one random op at a random strength per image."""
    _check_uint8(images)
    B = images.shape[0]
    draw = {"generator": generator, "device": images.device}
    choice = torch.randint(0, len(TRIVIAL_OPS), (B,), **draw)  # (B,) op index
    strength = torch.rand(B, **draw)  # (B,) in [0, 1)
    sign = torch.randint(0, 2, (B,), **draw) * 2 - 1  # (B,) ±1
    order = torch.argsort(choice, stable=True)  # images grouped by op
    counts = torch.bincount(choice, minlength=len(TRIVIAL_OPS)).tolist()  # one device sync
    out = images.clone()
    warped: list[torch.Tensor] = []  # per geometric op: its images, inverse maps, shifts
    inverses: list[torch.Tensor] = []
    shifts: list[torch.Tensor] = []
    start = 0
    for (name, op), count in zip(TRIVIAL_OPS.items(), counts, strict=True):
        index = order[start : start + count]
        start += count
        if not count or name == "identity":
            continue
        m = op.magnitude(strength[index], sign[index])
        if op.colour is not None:
            x = images.index_select(0, index).float()
            out.index_copy_(0, index, _to_uint8(op.colour(x, m)))
        else:
            inverse, shift = op.warp(m)
            warped.append(index)
            inverses.append(inverse)
            shifts.append(shift)
    if warped:  # every geometric op in one resampling
        index = torch.cat(warped)
        x = images.index_select(0, index).float()
        result = _warp(x, torch.cat(inverses), torch.cat(shifts))
        out.index_copy_(0, index, _to_uint8(result))
    return out
