"""Filter grids, Grad-CAM, misclassified and feature-map figures, and saving, on synthetic arrays."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from matplotlib.image import AxesImage
from PIL import Image
from torch import nn

from cnnlab.errors import ConfigError, DataFormatError, ModelError
from cnnlab.visualize import (
    capture_activations,
    grad_cam,
    plot_feature_maps,
    plot_filters,
    plot_gradcam,
    plot_misclassified,
    save_figure,
    select_misclassified,
)
from cnnlab.visualize.feature_maps import default_images, tile_maps
from cnnlab.visualize.filters import scale_unit
from cnnlab.visualize.layers import find_layers, gradcam_layer
from cnnlab.visualize.panels import grid_shape


def images_in(figure):
    return [
        artist for ax in figure.axes for artist in ax.get_images() if isinstance(artist, AxesImage)
    ]


@pytest.mark.parametrize(
    ("count", "max_columns", "shape"),
    [
        (1, 8, (1, 1)),
        (2, 8, (1, 2)),
        (10, 8, (2, 5)),
        (16, 8, (4, 4)),
        (32, 8, (4, 8)),
        (7, 8, (3, 3)),
    ],
)
def test_grid_shape_is_near_square_and_prefers_a_full_grid(count, max_columns, shape):
    assert grid_shape(count, max_columns) == shape


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_filter_grid_has_one_panel_per_filter(channels):
    weights = np.random.default_rng(0).normal(size=(12, channels, 5, 5))
    figure = plot_filters(weights, layer="net.conv")
    panels = images_in(figure)
    assert len(panels) == 12
    if channels == 3:
        assert panels[0].get_array().shape == (5, 5, 3)
    else:  # diverging map centred at 0, one shared scale
        limit = np.abs(weights[:, 0] if channels == 1 else weights.mean(axis=1)).max()
        assert {p.get_clim() for p in panels} == {(-limit, limit)}
        assert panels[0].get_cmap().name == "RdBu_r"
    assert "net.conv: 12 filters 5×5" in figure.get_suptitle()


def test_filter_grid_caps_the_panels_and_rejects_non_conv_weights():
    figure = plot_filters(np.ones((12, 1, 3, 3)), max_filters=10)
    assert len(images_in(figure)) == 10 and "first 10 of 12" in figure.get_suptitle()
    with pytest.raises(DataFormatError, match=r"\(F, C, kh, kw\)"):
        plot_filters(np.ones((4, 3, 3)))


def test_scale_unit_scales_each_filter_on_its_own():
    filters = np.array([[[-2.0, 0.0], [2.0, 1.0]], [[3.0, 3.0], [3.0, 3.0]]])
    np.testing.assert_array_equal(
        scale_unit(filters), [[[0.0, 0.5], [1.0, 0.75]], [[0.5, 0.5], [0.5, 0.5]]]
    )


def spot_model(sign: float) -> nn.Module:
    """identity 1x1 conv - global mean - linear to 2 classes with weights (+1, -1) * sign."""
    conv = nn.Conv2d(1, 1, 1, bias=False)
    fc = nn.Linear(1, 2, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        fc.weight.copy_(torch.tensor([[sign], [-sign]]))
    return nn.Sequential(
        OrderedDict(conv=conv, pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(), fc=fc)
    ).eval()


def test_grad_cam_of_a_linear_model_is_the_rectified_input_scaled_to_peak_one():
    image = torch.zeros(1, 1, 6, 6)
    image[0, 0, 1, 4], image[0, 0, 3, 2] = 1.0, 0.5
    model = spot_model(1.0)
    maps = grad_cam(model, image, model.conv, classes=[0])  # weight +1/36 on the input itself
    assert maps.shape == (1, 6, 6)
    np.testing.assert_allclose(maps[0], image[0, 0].numpy(), atol=1e-6)
    against = grad_cam(model, image, model.conv, classes=[1])  # negative weight: ReLU leaves 0
    np.testing.assert_array_equal(against, np.zeros((1, 6, 6), dtype=np.float32))


def test_grad_cam_maps_have_the_image_size_and_are_non_negative():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(6 * 2 * 2, 5),
    ).eval()
    images = torch.rand(7, 3, 8, 8)
    maps = grad_cam(model, images, model[3])
    assert maps.shape == (7, 8, 8)
    assert maps.min() >= 0 and maps.max() <= 1
    assert all(m.max() in (0.0, 1.0) for m in maps)
    assert not any(p.grad is not None for p in model.parameters())  # no gradients left behind


def test_grad_cam_targets_the_activation_after_the_last_conv():
    model = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(1, 2, 3),
            act1=nn.ReLU(),
            block=nn.Sequential(
                OrderedDict(conv=nn.Conv2d(2, 2, 3), bn=nn.BatchNorm2d(2), act=nn.ReLU())
            ),
            flatten=nn.Flatten(),
        )
    )
    assert gradcam_layer(model)[0] == "block.act"
    bare = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3), flatten=nn.Flatten()))
    assert gradcam_layer(bare)[0] == "conv"
    with pytest.raises(ModelError, match="has no Conv2d layer"):
        gradcam_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))


def test_select_misclassified_orders_mistakes_by_confidence():
    true = np.array([0, 1, 2, 0, 1, 2])
    predicted = np.array([1, 1, 0, 2, 1, 1])
    confidence = np.array([0.5, 0.9, 0.8, 0.5, 0.4, 0.95])
    np.testing.assert_array_equal(select_misclassified(true, predicted, confidence), [5, 2, 0, 3])
    np.testing.assert_array_equal(
        select_misclassified(true, predicted, confidence, limit=2), [5, 2]
    )
    assert select_misclassified(true, true, confidence).size == 0


def test_misclassified_and_gradcam_figures_title_each_image():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 3, 8, 8), dtype=np.uint8)
    true, predicted = np.array([0, 1, 2, 0, 1]), np.array([1, 2, 0, 2, 0])
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    names = ["ant", "bee", "a very long class name"]
    figure = plot_misclassified(
        images, true, predicted, confidence, names, ids=[10, 11, 12, 13, 14]
    )
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[0] == "#10\ntrue: ant\npred: bee (0.90)"
    assert titles[1].endswith("pred: a very long c… (0.80)")
    assert len(images_in(figure)) == 5
    maps = rng.random((5, 8, 8))
    figure = plot_gradcam(images, maps, true, predicted, confidence, names, layer="net.act")
    assert len(images_in(figure)) == 5 * 3  # image; gray base + heat overlay
    assert "net.act" in figure.get_suptitle()
    with pytest.raises(DataFormatError, match="5 images but per-image arrays of lengths"):
        plot_misclassified(images, true[:3], predicted, confidence, names)


def test_tile_maps_scales_each_channel_and_leaves_gaps():
    stack = np.array([[[0.0, 2.0]], [[5.0, 5.0]]])  # (2, 1, 2)
    tiled = tile_maps(stack, gap=1)
    np.testing.assert_array_equal(tiled, [[0.0, 1.0, np.nan, 0.5, 0.5]])


def test_feature_maps_of_hooked_layers_give_one_block_per_image():
    torch.manual_seed(0)
    model = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(1, 20, 3, padding=1),
            relu=nn.ReLU(),
            conv2=nn.Conv2d(20, 3, 3),
            flatten=nn.Flatten(),
            fc=nn.Linear(3 * 6 * 6, 2),
        )
    ).eval()
    images = torch.rand(2, 1, 8, 8)
    layers = find_layers(model, ["conv1", "conv2"])
    activations, logits = capture_activations(model, images, layers)
    assert activations["conv1"].shape == (2, 20, 8, 8) and activations["conv2"].shape == (
        2,
        3,
        6,
        6,
    )
    assert logits.shape == (2, 2)
    pixels = (images.numpy() * 255).astype(np.uint8)
    figure = plot_feature_maps(pixels, activations, ["first", "second"])
    assert [sub.get_suptitle() for sub in figure.subfigs] == ["first", "second"]
    assert len(images_in(figure)) == 2 * 3  # input + one tiled row per layer
    with pytest.raises(ModelError, match="no layer named 'conv9'; its conv layers are"):
        find_layers(model, ["conv9"])
    with pytest.raises(ModelError, match="pick a conv layer"):
        capture_activations(model, images, find_layers(model, ["fc"]))


def test_default_images_take_the_first_of_each_class_spread_over_many_classes():
    labels = np.array([2, 0, 0, 1, 2, 1])
    np.testing.assert_array_equal(default_images(labels, 3), [1, 3, 0])
    np.testing.assert_array_equal(default_images(labels, 4), [1, 3, 0])  # class 3 absent
    many = default_images(np.arange(100), 100)
    np.testing.assert_array_equal(many, [0, 11, 22, 33, 44, 55, 66, 77, 88, 99])


def test_save_figure_writes_png_and_svg_atomically(tmp_path):
    figure = plot_filters(np.ones((2, 1, 3, 3)))
    written = save_figure(figure, tmp_path / "figs" / "filters", ("png", "svg"))
    assert [p.name for p in written] == ["filters.png", "filters.svg"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(written[0]) as png:
        assert png.size[0] > 200 and png.info["dpi"][0] == pytest.approx(120, abs=0.1)
    assert "<svg" in written[1].read_text()
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["filters.png", "filters.svg"]
    with pytest.raises(ConfigError, match="figure formats must be some of"):
        save_figure(figure, tmp_path / "x", ("jpg",))
