"""Head surgery and input adaptation: new class count, gray into RGB and back, resizing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.config import ModelConfig
from cnnlab.errors import ModelError
from cnnlab.models import head_name, summarize
from cnnlab.runs import load_run
from cnnlab.transfer import Backbone, load_backbone, pretrained_classifier, transfer_net


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_the_head_is_replaced_for_the_new_class_count(deep_run):
    backbone = load_backbone(ModelConfig(pretrained=str(deep_run)))
    assert (backbone.num_classes, backbone.in_shape) == (5, (1, 28, 28))
    assert head_name(backbone.net, 5) == "head.fc"
    net = transfer_net(backbone, (1, 28, 28), 3)
    assert (net.head.in_features, net.head.out_features) == (16, 3)
    assert isinstance(net.backbone.head.fc, nn.Identity)
    source, own = backbone.net.state_dict(), net.backbone.state_dict()
    assert set(own) == set(source) - {"head.fc.weight", "head.fc.bias"}
    for key, value in own.items():
        np.testing.assert_array_equal(value.numpy(), source[key].numpy(), err_msg=key)
    assert {name.split(".")[0] for name, _ in net.named_parameters()} == {"backbone", "head"}
    assert backbone.net.head.fc.out_features == 5  # the source network is copied, not changed
    assert net.eval()(torch.zeros(2, 1, 28, 28)).shape == (2, 3)


def test_gray_images_go_through_an_rgb_backbone_as_repeated_channels(
    rgb_run, tmp_path, make_config
):
    config = make_config(tmp_path, "gray", f"model.pretrained={rgb_run}")
    model = pretrained_classifier(config, (1, 16, 16), 3).eval()
    source = load_run(rgb_run).model
    np.testing.assert_array_equal(model.normalize.mean.numpy(), source.normalize.mean.numpy())
    gray = _rand(4, 1, 16, 16)
    with torch.no_grad():
        features = model.net.backbone(model.net.adapt(model.normalize(gray)))  # (4, F)
        expected = source.net[:-1](source.normalize(gray.repeat(1, 3, 1, 1)))  # all but fc
        logits = model(gray)
    np.testing.assert_allclose(features.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)
    assert logits.shape == (4, 3)
    assert model.net.adapt(torch.ones(1, 1, 2, 2)).shape == (1, 3, 2, 2)
    rows = summarize(model.net, (1, 16, 16))  # the net alone takes the data's one channel
    assert rows[-1].output_shape == (3,)


def test_rgb_images_into_a_gray_backbone_take_the_luminance(deep_run, tmp_path, make_config):
    config = make_config(tmp_path, "rgb", f"model.pretrained={deep_run}")
    model = pretrained_classifier(config, (3, 28, 28), 2).eval()
    rgb = _rand(3, 3, 28, 28)
    luma = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2])[:, None]  # (3, 1, 28, 28)
    with torch.no_grad():
        np.testing.assert_allclose(model(rgb).numpy(), model(luma).numpy(), rtol=1e-5, atol=1e-6)


def test_a_size_the_backbone_cannot_take_asks_for_resize(rgb_run, tmp_path, make_config):
    config = make_config(tmp_path, "big", f"model.pretrained={rgb_run}")
    with pytest.raises(ModelError, match=r"16x16 images and does not run on the data's 28x28"):
        pretrained_classifier(config, (1, 28, 28), 3)
    resized = make_config(tmp_path, "big", f"model.pretrained={rgb_run}", "model.resize=true")
    model = pretrained_classifier(resized, (1, 28, 28), 3).eval()
    assert model.net.adapt.size == (16, 16)
    with torch.no_grad():
        assert model(_rand(2, 1, 28, 28)).shape == (2, 3)
        flat = model.net.adapt(torch.full((1, 3, 28, 28), 0.25))  # resizing keeps a constant
    np.testing.assert_allclose(flat.numpy(), np.full((1, 3, 16, 16), 0.25), atol=1e-6)


def test_a_linear_probe_backbone_stays_frozen_in_eval_mode(deep_run):
    backbone = load_backbone(ModelConfig(pretrained=str(deep_run)))
    net = transfer_net(backbone, (1, 28, 28), 3, strategy="linear-probe").train()
    assert not any(module.training for module in net.backbone.modules())
    assert net.head.training
    assert not any(p.requires_grad for p in net.backbone.parameters())
    assert all(p.requires_grad for p in net.head.parameters())


def test_a_backbone_without_a_linear_head_or_with_other_channels_is_refused():
    conv = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten())
    record = {"kind": "model", "name": "test"}
    backbone = Backbone(conv, (3, 8, 8), (0.5,) * 3, (0.5,) * 3, 2, "test net", record)
    with pytest.raises(ModelError, match="test net .* no head to replace: .* with 2 outputs"):
        transfer_net(backbone, (3, 8, 8), 3)
    linear = Backbone(
        nn.Sequential(conv, nn.Linear(72, 2)),
        (3, 8, 8),
        (0.5,) * 3,
        (0.5,) * 3,
        2,
        "test net",
        record,
    )
    with pytest.raises(ModelError, match="takes 3-channel images but the data has 4"):
        transfer_net(linear, (4, 8, 8), 3)
