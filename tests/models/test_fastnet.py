"""fastnet: the block order, the halving per width, and its option errors."""

import pytest
import torch

from cnnlab.errors import ModelError
from cnnlab.models import build_model


def test_each_width_halves_the_image_and_the_head_is_scaled():
    model = build_model("fastnet", (1, 28, 28), 7, stem=8, widths=(8, 16), head_scale=0.5)
    assert list(dict(model.named_children())) == [
        "stem", "layer1", "layer2", "pool", "flatten", "fc", "scale",
    ]  # fmt: skip
    features = model[:3](torch.zeros(2, 1, 28, 28))
    assert features.shape == (2, 16, 7, 7)
    x = torch.randn(3, 1, 28, 28)
    model.eval()
    unscaled = model[:-1](x)
    torch.testing.assert_close(model(x), unscaled * 0.5)


def test_too_small_input_names_the_minimum():
    with pytest.raises(ModelError, match="'fastnet' needs inputs of at least 8x8 pixels, got 4x4"):
        build_model("fastnet", (3, 4, 4), 10)


def test_stem_stride_halves_the_image_before_the_first_stage():
    model = build_model("fastnet", (1, 28, 28), 10, stem=8, stem_stride=2, widths=(8, 16, 32))
    assert model.stem(torch.zeros(2, 1, 28, 28)).shape == (2, 8, 14, 14)
    assert model[:4](torch.zeros(2, 1, 28, 28)).shape == (2, 32, 1, 1)  # 14 -> 7 -> 3 -> 1
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    # the minimum side doubles with the stride: 3 stages from a halved image need 15 pixels
    with pytest.raises(ModelError, match="at least 15x15 pixels, got 14x14"):
        build_model("fastnet", (1, 14, 14), 10, stem_stride=2)
    with pytest.raises(ModelError, match="stem_stride"):
        build_model("fastnet", (1, 28, 28), 10, stem_stride=0)


@pytest.mark.parametrize("bad", [0, -1.0, "big", True, "nan"])
def test_head_scale_must_be_positive(bad):
    with pytest.raises(ModelError, match="option 'head_scale' must be a number > 0"):
        build_model("fastnet", (3, 32, 32), 10, head_scale=bad)


def test_residual_stages_add_an_identity_shortcut_pair():
    plain = build_model("fastnet", (3, 32, 32), 10, stem=8, widths=(8, 16, 16))
    model = build_model("fastnet", (3, 32, 32), 10, stem=8, widths=(8, 16, 16), residual=[1, 3])
    assert hasattr(model.layer1, "residual") and hasattr(model.layer3, "residual")
    assert not hasattr(model.layer2, "residual")
    extra = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == 2 * (8 * 8 * 9 + 2 * 8) + 2 * (16 * 16 * 9 + 2 * 16)  # two conv+bn pairs each
    block = model.layer1.residual
    for module in block.branch:  # a zeroed branch leaves the shortcut alone
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.zeros_(module.weight)
            torch.nn.init.zeros_(module.bias)
    x = torch.randn(2, 8, 16, 16)
    torch.testing.assert_close(block(x), x)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_residual_outside_the_stages_names_them():
    with pytest.raises(ModelError, match=r"names stage\(s\) \[4\], but there are only 3 stages"):
        build_model("fastnet", (3, 32, 32), 10, residual=[4])
    with pytest.raises(ModelError, match="option 'residual'"):
        build_model("fastnet", (3, 32, 32), 10, residual=[0])
