"""TrivialAugment and random erasing: each op on crafted images, PIL as reference, the draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from cnnlab.data.arrays import Split
from cnnlab.data.augment import AugmentSpec, augment_batch, erase_boxes, random_erase
from cnnlab.data.loader import BatchLoader
from cnnlab.data.trivial_augment import TRIVIAL_OPS, apply_op, trivial_augment
from cnnlab.errors import ConfigError, DataFormatError


def _images(B: int = 16, C: int = 3, H: int = 12, W: int = 10, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 256, (B, C, H, W), generator=g, dtype=torch.uint8)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _pil(image: torch.Tensor) -> Image.Image:
    """A (1, H, W) uint8 tensor as a PIL greyscale image."""
    return Image.fromarray(image[0].numpy(), mode="L")


def _assert_same(actual: torch.Tensor, expected: torch.Tensor | np.ndarray) -> None:
    if isinstance(expected, torch.Tensor):
        expected = expected.cpu()
    np.testing.assert_array_equal(np.asarray(actual.cpu()), np.asarray(expected))


# --- the spec ---------------------------------------------------------------------------


def test_tokens_round_trip_and_describe_the_order() -> None:
    spec = AugmentSpec.from_string("crop4,flip,trivial,erase25")
    assert spec == AugmentSpec(crop_padding=4, flip=True, trivial=True, erase=25)
    assert spec.to_string() == "trivial,crop4,flip,erase25"
    assert AugmentSpec.from_string(spec.to_string()) == spec
    text = spec.describe()
    assert text.index("first TrivialAugment") < text.index("random crop") < text.index("erasing")
    assert "probability 0.25" in text and "`trivial,crop4,flip,erase25`" in text
    assert AugmentSpec.from_dict({"trivial": True, "erase": 50}) == AugmentSpec.from_string(
        "erase50,trivial"
    )
    assert AugmentSpec() == AugmentSpec.from_string("")  # defaults: neither op
    assert not AugmentSpec(trivial=True).is_identity and not AugmentSpec(erase=1).is_identity


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("crop4,erase0", r"token 'erase0'.*percentage P in 1\.\.100"),
        ("erase101", r"token 'erase101'.*percentage P in 1\.\.100"),
        ("trivial5", r"token 'trivial5'.*take no number"),
        ("trivial,trivial", "trivial is given twice"),
    ],
)
def test_bad_tokens_name_themselves(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        AugmentSpec.from_string(text)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"erase": 101}, "erase must be an integer percentage"), ({"trivial": 1}, "trivial must be")],
)
def test_spec_fields_are_validated(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        AugmentSpec(**kwargs)


# --- each op, forced at one magnitude ---------------------------------------------------


def test_identity_and_zero_magnitudes_leave_images_unchanged() -> None:
    x = _images()
    for name in ("identity", "brightness", "contrast", "sharpness", "rotate", "shear_x"):
        _assert_same(apply_op(x, name, 0), x)
    _assert_same(apply_op(x, "posterize", 8), x)


def test_brightness_scales_and_contrast_moves_towards_the_mean() -> None:
    x = torch.tensor([[[[100, 200], [50, 10]]]], dtype=torch.uint8)  # (1, 1, 2, 2), mean 90
    _assert_same(apply_op(x, "brightness", 0.5), [[[[150, 255], [75, 15]]]])
    _assert_same(apply_op(x, "brightness", -1), torch.zeros_like(x))
    _assert_same(apply_op(x, "contrast", -1), torch.full_like(x, 90))
    _assert_same(apply_op(x, "contrast", -0.5), [[[[95, 145], [70, 50]]]])


def test_sharpness_of_a_flat_image_is_nothing_and_a_dot_is_sharpened() -> None:
    flat = torch.full((1, 3, 5, 5), 77, dtype=torch.uint8)
    _assert_same(apply_op(flat, "sharpness", 0.9), flat)
    dot = torch.full((1, 1, 5, 5), 100, dtype=torch.uint8)
    dot[..., 2, 2] = 113  # smoothed centre: (8*100 + 5*113) / 13 = 105
    out = apply_op(dot, "sharpness", 1.0)  # 2 * 113 - 105 at the centre
    assert int(out[0, 0, 2, 2]) == 121 and int(out[0, 0, 0, 0]) == 100  # border kept


def test_posterize_solarize_equalize_autocontrast_match_pil() -> None:
    x = _images(B=4, C=1, H=24, W=30, seed=3)
    for image in x:
        pil = _pil(image)
        _assert_same(apply_op(image[None], "posterize", 3)[0, 0], ImageOps.posterize(pil, 3))
        _assert_same(apply_op(image[None], "solarize", 100)[0, 0], ImageOps.solarize(pil, 100))
        _assert_same(apply_op(image[None], "equalize", 0)[0, 0], ImageOps.equalize(pil))
        stretched = apply_op(image[None], "autocontrast", 0)[0, 0].int()
        reference = np.asarray(ImageOps.autocontrast(pil), dtype=np.int32)  # PIL truncates
        assert np.abs(stretched.numpy() - reference).max() <= 1


def test_solarize_inverts_above_the_threshold_and_posterize_keeps_top_bits() -> None:
    x = torch.tensor([[[[0, 99, 100, 255]]]], dtype=torch.uint8)
    _assert_same(apply_op(x, "solarize", 100), [[[[0, 99, 155, 0]]]])
    _assert_same(apply_op(x, "posterize", 2), [[[[0, 64, 64, 192]]]])
    _assert_same(apply_op(x, "posterize", 1), [[[[0, 0, 0, 128]]]])


def test_equalize_spreads_a_two_level_image_and_autocontrast_stretches_it() -> None:
    x = torch.full((2, 3, 32, 32), 10, dtype=torch.uint8)
    x[:, :, 16:] = 20  # half 10, half 20, in every channel of both images
    _assert_same(torch.unique(apply_op(x, "equalize", 0)), [0, 255])
    _assert_same(torch.unique(apply_op(x, "autocontrast", 0)), [0, 255])
    one_level = torch.full((1, 1, 32, 32), 40, dtype=torch.uint8)
    _assert_same(apply_op(one_level, "equalize", 0), one_level)
    _assert_same(apply_op(one_level, "autocontrast", 0), one_level)


def test_rotate_90_is_rot90_and_translate_shifts_with_zero_fill() -> None:
    x = _images(B=3, C=3, H=7, W=7)
    _assert_same(apply_op(x, "rotate", 90), torch.rot90(x, 1, dims=(-2, -1)))
    _assert_same(apply_op(x, "rotate", -90), torch.rot90(x, -1, dims=(-2, -1)))
    wide = _images(B=2, C=1, H=5, W=9)
    right = apply_op(wide, "translate_x", 2)
    _assert_same(right[..., 2:], wide[..., :-2])
    assert not right[..., :2].any()
    down = apply_op(wide, "translate_y", -1)
    _assert_same(down[..., :-1, :], wide[..., 1:, :])
    assert not down[..., -1, :].any()


def test_shear_x_moves_each_row_by_its_distance_from_the_centre() -> None:
    x = _images(B=1, C=1, H=5, W=12)
    out = apply_op(x, "shear_x", 1.0)  # row y (centred at 0 for the middle row) moves by y
    for row, shift in zip(range(5), (-2, -1, 0, 1, 2), strict=True):
        expected = torch.roll(x[0, 0, row], shift)
        keep = slice(max(shift, 0), 12 + min(shift, 0))
        _assert_same(out[0, 0, row, keep], expected[keep])
    _assert_same(apply_op(x.transpose(-1, -2), "shear_y", 1.0), out.transpose(-1, -2))


def test_unknown_op_and_float_input_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown op 'blur'"):
        apply_op(_images(), "blur", 1)
    with pytest.raises(DataFormatError, match="needs a uint8 batch"):
        augment_batch(_images().float(), AugmentSpec(trivial=True), _gen())


# --- the random policy -------------------------------------------------------------------


@pytest.mark.parametrize("C", [1, 3])
def test_policy_is_seeded_keeps_dtype_and_shape_and_uses_every_op(C: int) -> None:
    x = _images(B=256, C=C, H=9, W=11)
    before = x.clone()
    spec = AugmentSpec(trivial=True, erase=30, flip=True)
    a, b = augment_batch(x, spec, _gen(1)), augment_batch(x, spec, _gen(1))
    c = augment_batch(x, spec, _gen(2))
    _assert_same(a, b)
    assert not torch.equal(a, c)
    _assert_same(x, before)
    assert a.dtype == torch.uint8 and a.shape == x.shape and a.device == x.device
    out = trivial_augment(x, _gen(5))
    changed = (out != x).flatten(1).any(1).float().mean()
    unchanged_share = 1 / len(TRIVIAL_OPS)  # identity, and near-zero strengths
    assert 1 - 3 * unchanged_share < changed < 1 - 0.5 * unchanged_share


def test_each_image_gets_one_op_as_if_applied_alone() -> None:
    """The batched policy equals apply_op image by image, for the draws the policy made."""
    x = _images(B=64, C=3, H=8, W=8, seed=4)
    out = trivial_augment(x, _gen(9))
    g = _gen(9)  # replay the policy's draws: op, strength, sign
    choice = torch.randint(0, len(TRIVIAL_OPS), (64,), generator=g)
    strength = torch.rand(64, generator=g)
    sign = torch.randint(0, 2, (64,), generator=g) * 2 - 1
    ops = list(TRIVIAL_OPS.items())
    for i in range(64):
        name, op = ops[int(choice[i])]
        m = float(op.magnitude(strength[i : i + 1], sign[i : i + 1]))
        _assert_same(out[i], apply_op(x[i : i + 1], name, m)[0])
    assert len(set(choice.tolist())) > 8


# --- random erasing ----------------------------------------------------------------------


def test_erasing_chooses_about_p_of_the_images_with_areas_in_range() -> None:
    B, H, W = 4000, 40, 50
    chosen, boxes = erase_boxes(B, H, W, 0.25, _gen(3))
    assert abs(float(chosen.float().mean()) - 0.25) < 0.03
    top, left, h, w = boxes[chosen].unbind(1)
    area = (h * w).float() / (H * W)
    assert float(area.min()) > 0.015 and float(area.max()) < 0.345  # 0.02..0.33, rounded sides
    assert bool((top >= 0).all() and (top + h <= H).all() and (left + w <= W).all())
    ratio = (h.float() / w.float()).log()
    assert float(ratio.min()) < -0.5 and float(ratio.max()) > 0.5  # tall and wide ones


def test_random_erase_fills_exactly_the_chosen_rectangles_with_noise() -> None:
    x = torch.zeros(300, 3, 16, 16, dtype=torch.uint8)
    out = random_erase(x, 0.5, _gen(7))
    chosen, boxes = erase_boxes(300, 16, 16, 0.5, _gen(7))  # the same first draws
    for image, pick, (top, left, h, w) in zip(out, chosen, boxes.tolist(), strict=True):
        inside = torch.zeros(16, 16, dtype=torch.bool)
        if pick:
            inside[top : top + h, left : left + w] = True
        assert not image[:, ~inside].any()
        if pick:
            assert image[:, inside].float().std() > 40  # uniform noise, std ~74
    float_out = random_erase(x.float(), 1.0, _gen(7))
    assert float(float_out.max()) <= 1.0 and float(float_out.max()) > 0.9


def test_loader_replays_trivial_and_erase_draws_from_any_epoch() -> None:
    """A fresh loader set to epoch 1 yields what an uninterrupted one yields in its epoch 1."""
    rng = np.random.default_rng(2)
    split = Split(rng.integers(0, 256, (40, 3, 8, 8), dtype=np.uint8), np.zeros(40, np.int64))
    settings = {
        "batch_size": 16,
        "shuffle": True,
        "seed": 3,
        "augment": "crop4,flip,trivial,erase25",
    }
    whole = BatchLoader(split, **settings)
    for epoch in range(2):
        whole.set_epoch(epoch)
        batches = [images for images, _ in whole]
    fresh = BatchLoader(split, **settings)
    fresh.set_epoch(1)
    for expected, (images, _) in zip(batches, fresh, strict=True):
        _assert_same(images, expected)
    plain = BatchLoader(split, **(settings | {"augment": "crop4,flip"}))
    plain.set_epoch(1)
    assert not torch.equal(next(iter(plain))[0], batches[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_policy_is_seeded_and_each_op_agrees_with_the_cpu() -> None:
    x = _images(B=64, C=3, H=16, W=16).cuda()
    spec = AugmentSpec.from_string("crop4,flip,trivial,erase25")
    g = torch.Generator(device="cuda")
    a = augment_batch(x, spec, g.manual_seed(1))
    _assert_same(a, augment_batch(x, spec, g.manual_seed(1)))
    assert a.device == x.device and a.dtype == torch.uint8
    for name in TRIVIAL_OPS:
        magnitude = 3 if name == "posterize" else 0.4 if name != "rotate" else 30
        gpu = apply_op(x, name, magnitude).cpu().int()
        cpu = apply_op(x.cpu(), name, magnitude).int()
        off = (gpu - cpu).abs() > 1  # float rounding at .5 may differ by one level, and
        assert float(off.float().mean()) < 0.01, name  # nearest may pick a neighbour at .5
