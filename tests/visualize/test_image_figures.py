"""Filter grids, Grad-CAM, misclassified and feature-map figures, mosaics, and saving."""

from __future__ import annotations

import io
from collections import OrderedDict

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
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
from cnnlab.visualize.feature_maps import default_images, layer_label, tile_maps
from cnnlab.visualize.filters import GAP_PIXELS, filter_tiles, scale_unit
from cnnlab.visualize.gradcam import HEAT_ALPHA, bilinear, heat_overlay
from cnnlab.visualize.layers import find_layers, gradcam_layer
from cnnlab.visualize.mosaic import (
    FRAME_GRAY,
    PixelImage,
    mosaic,
    repeated,
    rgb_images,
    stamp,
    text_inks,
    zoom,
    zoom_factor,
)
from cnnlab.visualize.panels import grid_shape, new_figure, text_height, widest
from cnnlab.visualize.save import png_bytes, render


def mosaic_in(figure) -> np.ndarray:
    """The pixels (H, W, 4) of the figure's one mosaic image."""
    (image,) = [artist for artist in figure.artists if isinstance(artist, PixelImage)]
    return image.pixels


def titles_in(figure) -> list[str]:
    """The texts placed on the figure, its suptitle left out."""
    return [t.get_text() for t in figure.texts if t.get_text() != figure.get_suptitle()]


def grid_size(rows: int, columns: int, tile: int, gap: int, band: int = 0) -> tuple[int, int]:
    """(height, width) in pixels of a mosaic of square tiles with 1-pixel outer frames."""
    return rows * (band + tile) + (rows - 1) * gap + 2, columns * tile + (columns - 1) * gap + 2


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
def test_filter_tiles_colour_rgb_filters_alone_and_others_on_one_diverging_scale(channels):
    weights = np.random.default_rng(0).normal(size=(12, channels, 5, 5))
    tiles, scale, how = filter_tiles(weights)
    assert tiles.shape == (12, 5, 5, 3) and tiles.dtype == np.uint8
    if channels == 3:
        assert scale is None and how.startswith("RGB")
        expected = np.round(scale_unit(weights).transpose(0, 2, 3, 1) * 255)
        np.testing.assert_array_equal(tiles, expected)
    else:  # diverging map centred at 0, one shared scale
        flat = weights[:, 0] if channels == 1 else weights.mean(axis=1)
        limit = np.abs(flat).max()
        assert scale.get_clim() == (-limit, limit) and scale.get_cmap().name == "RdBu_r"
        strongest = np.unravel_index(np.abs(flat).argmax(), flat.shape)
        assert tuple(tiles[strongest]) in {(5, 48, 97), (103, 0, 31)}  # the map's two ends


@pytest.mark.parametrize("channels", [1, 3])
def test_filter_grid_is_one_mosaic_with_a_colour_bar_unless_rgb(channels):
    weights = np.random.default_rng(0).normal(size=(12, channels, 5, 5))
    figure = plot_filters(weights, layer="net.conv")
    assert "net.conv: 12 filters 5×5" in figure.get_suptitle()
    side = 5 * zoom_factor(5, 0.62 * 120)
    assert mosaic_in(figure).shape[:2] == grid_size(3, 4, side, GAP_PIXELS)  # 12 -> 3 x 4
    colour_bars = [ax.get_ylabel() for ax in figure.axes]
    assert colour_bars == ([] if channels == 3 else ["weight"])


def test_filter_grid_caps_the_panels_and_rejects_non_conv_weights():
    figure = plot_filters(np.ones((12, 1, 3, 3)), max_filters=10)
    assert "first 10 of 12" in figure.get_suptitle()
    side = 3 * zoom_factor(3, 0.62 * 120)
    assert mosaic_in(figure).shape[:2] == grid_size(2, 5, side, GAP_PIXELS)  # 10 -> 2 x 5
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
    titles = titles_in(figure)
    assert len(titles) == 5
    assert titles[0] == "#10\ntrue: ant\npred: bee (0.90)"
    assert titles[1].endswith("pred: a very long c… (0.80)")
    assert "Misclassified test images" in figure.get_suptitle()
    pixels = mosaic_in(figure)
    side = 8 * zoom_factor(8, 1.15 * 120)
    assert side < pixels.shape[0] < 2 * side and pixels.shape[1] > 5 * side  # 5 -> 1 x 5
    maps = rng.random((5, 8, 8))
    figure = plot_gradcam(images, maps, true, predicted, confidence, names, layer="net.act")
    mistakes = plot_misclassified(images, true, predicted, confidence, names)
    assert titles_in(figure) == titles_in(mistakes)  # "Grad-CAM", 5 times, is stamped
    overlays = mosaic_in(figure)[:, 8 * zoom_factor(8, 1.15 * 120) + 10 :]
    assert overlays[: text_height(3, 7) + 3, :, :3].min() < 100  # ink in the title band
    assert "net.act" in figure.get_suptitle()
    assert [ax.get_ylabel() for ax in figure.axes] == ["relative importance"]
    with pytest.raises(DataFormatError, match="5 images but per-image arrays of lengths"):
        plot_misclassified(images, true[:3], predicted, confidence, names)


def test_titles_sit_above_their_tiles_without_overlapping():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (4, 1, 28, 28), dtype=np.uint8)
    names = ["a rather long class name", "b"]
    labels = np.array([0, 1, 0, 1])
    figure = plot_misclassified(images, labels, 1 - labels, np.full(4, 0.5), names)
    renderer = figure.canvas.get_renderer()
    boxes = [
        t.get_window_extent(renderer) for t in figure.texts if t.get_text() in titles_in(figure)
    ]
    assert boxes[0].x1 < boxes[1].x0 and boxes[2].x1 < boxes[3].x0  # 2 x 2, titles apart
    (image,) = [a for a in figure.artists if isinstance(a, PixelImage)]
    top = image.box[3] * figure.dpi  # the mosaic's top edge in pixels
    assert all(b.y0 < top and b.y1 <= figure.bbox.height for b in boxes)


def test_empty_mistake_figures_say_so():
    none = np.zeros((0, 1, 8, 8), dtype=np.uint8)
    empty = np.zeros(0, dtype=np.int64)
    figure = plot_misclassified(none, empty, empty, np.zeros(0), ["a"])
    assert [t.get_text() for t in figure.texts] == ["no misclassified images"]
    figure = plot_gradcam(none, np.zeros((0, 8, 8)), empty, empty, np.zeros(0), ["a"])
    assert [t.get_text() for t in figure.texts] == ["no images to explain"]


def test_heat_overlay_blends_the_gray_image_with_the_heat_colours():
    pictures = np.full((2, 4, 4, 3), 200, dtype=np.uint8)
    maps = np.stack([np.zeros((2, 2)), np.ones((2, 2))])
    overlay = heat_overlay(pictures, maps, 2)  # maps zoomed 2x to the pictures' 4 x 4
    assert overlay.shape == (2, 4, 4, 3) and overlay.dtype == np.uint8
    cold, hot = np.array([0, 0, 127.5]), np.array([127.5, 0, 0])  # jet at 0 and at 1
    for picture, colour in zip(overlay, (cold, hot), strict=True):
        expected = (1 - HEAT_ALPHA) * 200 + HEAT_ALPHA * colour
        np.testing.assert_allclose(picture, np.broadcast_to(expected, (4, 4, 3)), atol=1)


@pytest.mark.parametrize("factor", [2, 5])
def test_bilinear_weights_resize_as_torch_interpolate_does(factor):
    maps = np.random.default_rng(0).random((3, 7, 9)).astype(np.float32)
    ours = bilinear(7, factor) @ maps @ bilinear(9, factor).T
    theirs = torch.nn.functional.interpolate(
        torch.from_numpy(maps)[:, None], scale_factor=factor, mode="bilinear", align_corners=False
    )
    np.testing.assert_allclose(ours, theirs[:, 0].numpy(), atol=1e-6)


def test_mosaic_places_framed_tiles_row_by_row_below_title_bands():
    tiles = np.arange(1, 4, dtype=np.uint8)[:, None, None, None] * np.ones((3, 2, 2, 3), np.uint8)
    image, corners = mosaic(tiles, 2, gap=3, band=4)
    assert image.shape == (2 * (4 + 2) + 3 + 2, 2 * 2 + 3 + 2, 4)  # RGBA
    assert (image[..., 3] == 255).all()
    np.testing.assert_array_equal(corners, [[1, 5], [6, 5], [1, 14]])
    for (x, y), tile in zip(corners, tiles, strict=True):
        np.testing.assert_array_equal(image[y : y + 2, x : x + 2, :3], tile)
        assert (image[y - 1, x - 1 : x + 3, :3] == FRAME_GRAY).all()
    assert (image[:4] == 255).all() and (image[14:, 6:] == 255).all()  # title band, empty cell


def test_text_inks_are_stamped_in_their_colour_where_the_text_goes():
    inks = text_inks(["conv1\n16 channels", "input"], 7, "right")
    ink = inks[0]
    assert ink.min() >= 0 and ink.max() > 0.9  # glyph cores are fully inked
    assert ink[0].max() < 0.5 and ink[:, 0].max() < 0.5  # a margin all round
    assert ink.shape[0] == pytest.approx(2 * 1.2 * 7 / 72 * 120 + 2, abs=1)
    assert inks[1].shape == (text_height(1, 7) + 2, ink.shape[1])  # rows as wide as the widest
    image = np.full((ink.shape[0] + 4, ink.shape[1] + 4, 3), 200, dtype=np.uint8)
    stamp(image, ink, 2, 2)
    np.testing.assert_array_equal(image[2:-2, 2:-2, 0], np.round(200 * (1 - ink)))
    assert (image[:2] == 200).all()
    before = image[2:-2, : ink.shape[1] - 3, 1].astype(float)
    stamp(image, ink, -3, 2, colour=(1, 1, 1))  # white, partly outside the image
    expected = np.round(before * (1 - ink[:, 3:]) + 255 * ink[:, 3:])
    np.testing.assert_array_equal(image[2:-2, : ink.shape[1] - 3, 1], expected)


def test_widest_measures_text_as_agg_does_and_repeated_finds_stamps():
    renderer = new_figure(1, 1).canvas.get_renderer()
    texts = ["pred: a rather long c… (0.50)", "#6674\ntrue: 5", "channels 0–15 of 32"]
    for points in (7, 7.5, 10):
        measured = [
            renderer.get_text_width_height_descent(line, FontProperties(size=points), False)[0]
            for text in texts
            for line in text.split("\n")
        ]
        assert widest(texts, points) == pytest.approx(max(measured), abs=1.5)
    assert widest([], 7) == 0
    assert repeated(["a", "b", "a", "c", "a", "b"]) == {"a"}


def test_zoom_repeats_pixels_or_averages_blocks():
    images = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
    np.testing.assert_array_equal(zoom(images, 2)[0, :2, :4], [[0, 0, 1, 1], [0, 0, 1, 1]])
    np.testing.assert_array_equal(zoom(images, -2)[0], [[2, 4], [10, 12]])  # 2 x 2 means
    assert zoom_factor(28, 138) == 5 and zoom_factor(32, 138) == 4 and zoom_factor(500, 138) == -4


def test_rgb_images_show_gray_in_three_channels_and_floats_as_bytes():
    gray = np.array([[[[0, 255]]]], dtype=np.uint8)  # (1, 1, 1, 2)
    np.testing.assert_array_equal(rgb_images(gray)[0, 0], [[0, 0, 0], [255, 255, 255]])
    floats = np.full((1, 3, 1, 1), 0.5)
    np.testing.assert_array_equal(rgb_images(floats)[0, 0, 0], [128, 128, 128])
    four = np.stack([np.zeros((1, 1)), np.full((1, 1), 200)] * 2)[None].astype(np.uint8)
    np.testing.assert_array_equal(rgb_images(four)[0, 0, 0], [100, 100, 100])  # channel mean


def test_pixel_image_is_drawn_pixel_for_pixel_and_scales_with_the_dpi():
    image = np.random.default_rng(0).integers(0, 256, (10, 20, 3), dtype=np.uint8)
    figure = new_figure(1.0, 1.0)  # 120 x 120 pixels
    figure.add_artist(PixelImage(image, (0.1, 0.5, 0.1 + 20 / 120, 0.5 + 10 / 120)))
    figure.canvas.draw()
    drawn = np.asarray(figure.canvas.buffer_rgba())[..., :3]
    top, left = 120 - 70, 12  # the box's top edge is 0.5 in + 10 px above the bottom
    np.testing.assert_array_equal(drawn[top : top + 10, left : left + 20], image)
    figure.set_dpi(240)  # twice the pixels: each one drawn 2 x 2
    figure.canvas.draw()
    drawn = np.asarray(figure.canvas.buffer_rgba())[..., :3]
    np.testing.assert_array_equal(drawn[100:120, 24:64], zoom(image[None], 2)[0])


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
    label = layer_label("conv1", activations["conv1"], 16)
    assert label == "conv1\nchannels 0–15 of 20\n8×8"
    assert layer_label("conv2", activations["conv2"], 16) == "conv2\n3 channels\n6×6"
    assert titles_in(figure) == ["first", "second"]  # one block per image
    assert mosaic_in(figure).shape[0] > 2 * 2 * 0.5 * 120  # two blocks of two layer rows
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


def test_png_bytes_decode_to_the_same_pixels_and_dpi():
    rgba = np.random.default_rng(0).integers(0, 256, (7, 5, 4), dtype=np.uint8)
    with Image.open(io.BytesIO(png_bytes(rgba, 120))) as png:
        assert png.mode == "RGBA" and png.info["dpi"][0] == pytest.approx(120, abs=0.1)
        np.testing.assert_array_equal(np.asarray(png), rgba)


def test_render_draws_any_figure_at_the_png_dpi_and_leaves_its_dpi_alone():
    figure = Figure(figsize=(2, 1), dpi=72, layout="constrained")  # not from new_figure
    figure.add_subplot().plot([0, 1], [1, 0])
    FigureCanvasAgg(figure)
    pixels = render(figure)
    assert pixels.shape == (120, 240, 4) and figure.dpi == 72
    assert (pixels[..., 3] == 255).all() and pixels[..., :3].min() < 100  # opaque, drawn
