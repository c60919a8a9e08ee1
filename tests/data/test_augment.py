"""Batched augmentation: spec parsing, and each op checked image by image against brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlab.data.augment import AugmentSpec, augment_batch
from cnnlab.errors import ConfigError, DataFormatError


def _images(B: int = 32, C: int = 3, H: int = 8, W: int = 10, seed: int = 0) -> torch.Tensor:
    """Random uint8 images with no zero pixel, so zero fill and cutout are recognisable."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 256, (B, C, H, W), generator=g, dtype=torch.uint8)


def _assert_same(actual: torch.Tensor, expected: torch.Tensor) -> None:
    np.testing.assert_array_equal(actual.cpu().numpy(), expected.cpu().numpy())


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _shifted_windows(image: torch.Tensor, p: int) -> list[tuple[int, int, torch.Tensor]]:
    """Every (dy, dx, window) of `image` (C, H, W) zero-padded by p, cropped to (H, W)."""
    _, H, W = image.shape
    padded = F.pad(image, (p, p, p, p))
    return [
        (dy, dx, padded[:, dy : dy + H, dx : dx + W])
        for dy in range(2 * p + 1)
        for dx in range(2 * p + 1)
    ]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"crop_padding": -1}, "crop_padding must be an integer >= 0"),
        ({"cutout": 2.5}, "cutout must be an integer >= 0"),
        ({"translate": True}, "translate must be an integer >= 0"),
        ({"flip": 1}, "flip must be true or false"),
        ({"crop_padding": 4, "translate": 2}, "same zero-filled random shift"),
    ],
)
def test_spec_rejects_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        AugmentSpec(**kwargs)


def test_from_string_and_back() -> None:
    spec = AugmentSpec.from_string(" crop4, flip ,cutout8")
    assert spec == AugmentSpec(crop_padding=4, flip=True, cutout=8)
    assert spec.to_string() == "crop4,flip,cutout8"
    assert AugmentSpec.from_string(spec.to_string()) == spec
    assert AugmentSpec.from_string("translate2").translate == 2
    assert AugmentSpec.from_string("") == AugmentSpec.from_string("none") == AugmentSpec()
    assert AugmentSpec().to_string() == "none"


def test_from_string_rejects_unknown_and_repeated_tokens() -> None:
    with pytest.raises(ConfigError, match=r"unknown token 'rotate10'.*crop<N>, translate<N>"):
        AugmentSpec.from_string("crop4,rotate10")
    with pytest.raises(ConfigError, match="crop_padding is given twice"):
        AugmentSpec.from_string("crop4,crop2")


def test_from_dict_and_parse() -> None:
    assert AugmentSpec.from_dict({"flip": True, "cutout": 4}) == AugmentSpec(flip=True, cutout=4)
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['crop'\]; allowed keys are"):
        AugmentSpec.from_dict({"crop": 4})
    assert AugmentSpec.parse(None) == AugmentSpec()
    assert AugmentSpec.parse("flip") == AugmentSpec(flip=True)
    assert AugmentSpec.parse({"translate": 1}) == AugmentSpec(translate=1)
    with pytest.raises(ConfigError, match="got int"):
        AugmentSpec.parse(4)  # type: ignore[arg-type]


def test_is_identity() -> None:
    assert AugmentSpec().is_identity
    assert not AugmentSpec(cutout=1).is_identity and not AugmentSpec(flip=True).is_identity


def test_identity_spec_returns_the_input() -> None:
    x = _images()
    assert augment_batch(x, AugmentSpec(), _gen()) is x


def test_deterministic_under_a_seeded_generator_and_input_untouched() -> None:
    x = _images()
    before = x.clone()
    spec = AugmentSpec(crop_padding=2, flip=True, cutout=3)
    a = augment_batch(x, spec, _gen(1))
    b = augment_batch(x, spec, _gen(1))
    c = augment_batch(x, spec, _gen(2))
    _assert_same(a, b)
    assert not torch.equal(a, c)
    _assert_same(x, before)
    assert a.dtype == torch.uint8 and a.shape == x.shape


def test_flip_gives_each_image_or_its_mirror_and_both_occur() -> None:
    x = _images(B=64)
    out = augment_batch(x, AugmentSpec(flip=True), _gen())
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(-1)).flatten(1).all(1)
    assert torch.all(same ^ mirrored)  # no random image is its own mirror
    assert 10 < int(mirrored.sum()) < 54


@pytest.mark.parametrize("flip", [False, True])
def test_crop_matches_a_window_of_the_padded_image(flip: bool) -> None:
    p = 2
    x = _images(B=48)
    out = augment_batch(x, AugmentSpec(crop_padding=p, flip=flip), _gen(3))
    offsets, flips = set(), 0
    for image, result in zip(x, out, strict=True):
        found = [
            (dy, dx, mirrored)
            for dy, dx, window in _shifted_windows(image, p)
            for mirrored, candidate in ((False, window), (True, window.flip(-1)))
            if (flip or not mirrored) and torch.equal(candidate, result)
        ]
        assert len(found) == 1, found
        offsets.add(found[0][:2])
        flips += found[0][2]
    assert len(offsets) > 12  # the offsets vary per image, out of 25
    assert (flips > 0) == flip


def test_translate_is_the_same_shift_as_crop() -> None:
    x = _images()
    crop = augment_batch(x, AugmentSpec(crop_padding=3), _gen(5))
    shift = augment_batch(x, AugmentSpec(translate=3), _gen(5))
    _assert_same(crop, shift)


@pytest.mark.parametrize("side", [1, 3, 4])
def test_cutout_zeroes_one_square_per_image_clipped_at_borders(side: int) -> None:
    x = _images(B=64, H=7, W=9)
    out = augment_batch(x, AugmentSpec(cutout=side), _gen(side))
    clipped = 0
    for image, result in zip(x, out, strict=True):
        zero = (result == 0).all(0)  # (H, W); the input has no zero pixel
        rows = torch.nonzero(zero.any(1)).flatten()
        cols = torch.nonzero(zero.any(0)).flatten()
        top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        assert zero.sum() == (bottom - top) * (right - left)  # one full rectangle
        assert zero[top:bottom, left:right].all()
        height_ok = bottom - top == side or top == 0 or bottom == 7
        width_ok = right - left == side or left == 0 or right == 9
        assert height_ok and width_ok and bottom - top <= side and right - left <= side
        clipped += bool(bottom - top < side or right - left < side)
        _assert_same(result[:, ~zero], image[:, ~zero])
    assert (clipped > 0) == (side > 1)


def test_float_images_get_the_same_draws_as_uint8() -> None:
    x = _images()
    spec = AugmentSpec(crop_padding=2, flip=True, cutout=4)
    as_uint8 = augment_batch(x, spec, _gen(7))
    as_float = augment_batch(x.float() / 255, spec, _gen(7))
    assert as_float.dtype == torch.float32 and as_float.shape == x.shape
    _assert_same(as_float, as_uint8.float() / 255)


def test_channels_last_input_gives_the_same_values() -> None:
    x = _images()
    spec = AugmentSpec(crop_padding=1, flip=True)
    dense = augment_batch(x, spec, _gen(4))
    strided = augment_batch(x.contiguous(memory_format=torch.channels_last), spec, _gen(4))
    _assert_same(strided, dense)


def test_rejects_wrong_rank() -> None:
    with pytest.raises(DataFormatError, match=r"\(B, C, H, W\), got \(3, 8, 8\)"):
        augment_batch(torch.zeros(3, 8, 8, dtype=torch.uint8), AugmentSpec(flip=True), _gen())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_matches_itself_and_rejects_a_cpu_generator() -> None:
    x = _images().cuda()
    spec = AugmentSpec(crop_padding=2, flip=True, cutout=3)
    g = torch.Generator(device="cuda")
    a = augment_batch(x, spec, g.manual_seed(1))
    b = augment_batch(x, spec, g.manual_seed(1))
    _assert_same(a, b)
    assert a.device == x.device
    with pytest.raises(ConfigError, match="generator is on cpu"):
        augment_batch(x, spec, _gen())
