"""`blocks.Flatten`: nn.Flatten's values and gradients, with a channels-last input's gradient
handed back channels-last (so a max-pool below it does not convert it every step)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from cnnlab.models import build_model
from cnnlab.models.blocks import Flatten

CHANNELS_LAST = torch.channels_last
ROOT = Path(__file__).resolve().parents[2]


def pooled_then_flattened(flatten: nn.Module, x: torch.Tensor):
    """(output, gradient at the max-pool's output, gradient at the input) of pool→flatten→sum·w."""
    x = x.detach().clone().requires_grad_()
    pooled = nn.functional.max_pool2d(x, 2)
    handed_down = []  # the gradient the max-pool's backward receives, as it arrives
    pooled.register_hook(handed_down.append)
    out = flatten(pooled)
    weights = torch.linspace(-1, 1, out.shape[1])
    (out * weights).sum().backward()
    return out, handed_down[0], x.grad


def test_channels_last_gradients_match_nn_flatten_and_keep_the_layout():
    x = torch.randn(3, 4, 6, 6).contiguous(memory_format=CHANNELS_LAST)
    ours = pooled_then_flattened(Flatten(), x)
    theirs = pooled_then_flattened(nn.Flatten(), x)
    for mine, wanted in zip(ours, theirs, strict=True):
        assert torch.equal(mine, wanted)
    assert ours[1].is_contiguous(memory_format=CHANNELS_LAST) and not ours[1].is_contiguous()
    assert not theirs[1].is_contiguous(memory_format=CHANNELS_LAST)  # what the fix is for


def test_other_inputs_take_nn_flatten_unchanged():
    plain = torch.randn(2, 3, 4, 4, requires_grad=True)
    assert torch.equal(Flatten()(plain), plain.flatten(1))
    with torch.no_grad():  # evaluation and export: no gradient, nothing special
        assert torch.equal(
            Flatten()(plain.contiguous(memory_format=CHANNELS_LAST)), plain.flatten(1)
        )
    assert Flatten(0, 2)(torch.zeros(2, 3, 4, 5)).shape == (24, 5)
    assert repr(Flatten()) == repr(nn.Flatten()) and Flatten().state_dict() == {}


def test_the_built_in_and_spec_models_use_it():
    spec = str(ROOT / "configs" / "models" / "mnist_v1_conv_pool_linear.yaml")
    for name in ("conv1", "fc_only", spec):
        model = build_model(name, (1, 28, 28), 10)
        assert any(isinstance(module, Flatten) for module in model.modules()), name
