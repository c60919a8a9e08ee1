"""Images to predict on: array layouts, channel conversion, files and folders, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnlab.errors import DataError, DataFormatError
from cnnlab.evaluate.inputs import image_files, images_from_array, images_from_files, to_gray


def rgb_images(N=4, H=6, W=5, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (N, 3, H, W), dtype=np.uint8)


def test_rgb_to_gray_matches_pillow_bit_for_bit():
    images = rgb_images(N=3)
    expected = np.stack(
        [np.asarray(Image.fromarray(img.transpose(1, 2, 0), "RGB").convert("L")) for img in images]
    )[:, None]
    np.testing.assert_array_equal(to_gray(images), expected)


def test_every_layout_gives_the_same_channels_first_array():
    images = rgb_images()  # (4, 3, 6, 5)
    shape = (3, 6, 5)
    nchw = images_from_array(images, shape)
    np.testing.assert_array_equal(nchw, images)
    np.testing.assert_array_equal(images_from_array(images.transpose(0, 2, 3, 1), shape), images)
    gray = images[:, 0]  # (4, 6, 5)
    np.testing.assert_array_equal(images_from_array(gray, (1, 6, 5)), gray[:, None])
    np.testing.assert_array_equal(images_from_array(gray, shape), np.repeat(gray[:, None], 3, 1))
    np.testing.assert_array_equal(images_from_array(images, (1, 6, 5)), to_gray(images))


def test_float_images_stay_float_and_must_be_in_unit_range():
    images = rgb_images().astype(np.float64) / 255
    out = images_from_array(images, (3, 6, 5))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, images.astype(np.float32))
    with pytest.raises(DataFormatError, match=r"must lie in \[0, 1\].*got 0..255"):
        images_from_array(images * 255, (3, 6, 5))
    with pytest.raises(DataFormatError, match="uint8 .* or float"):
        images_from_array(rgb_images().astype(np.int32), (3, 6, 5))


def test_wrong_channel_count_and_size_are_refused_clearly():
    rgba = np.zeros((2, 4, 6, 5), dtype=np.uint8)
    with pytest.raises(DataFormatError, match="images have 4 channels but the run takes 3"):
        images_from_array(rgba, (3, 6, 5))
    with pytest.raises(DataFormatError, match=r"shape \(2, 3, 8, 8\) do not fit the run's input"):
        images_from_array(np.zeros((2, 3, 8, 8), dtype=np.uint8), (3, 6, 5))
    with pytest.raises(DataFormatError, match="no image"):
        images_from_array(np.zeros((0, 3, 6, 5), dtype=np.uint8), (3, 6, 5))


def test_a_folder_is_read_recursively_in_sorted_order(tmp_path):
    images = rgb_images(N=3, H=8, W=8)
    names = ["b.png", "a.png", "sub/c.png"]
    for name, img in zip(names, images, strict=True):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(img.transpose(1, 2, 0), "RGB").save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    files = image_files(tmp_path)
    assert [image_id for image_id, _ in files] == ["a.png", "b.png", "sub/c.png"]
    decoded, sizes = images_from_files([path for _, path in files], (3, 8, 8))
    np.testing.assert_array_equal(decoded, images[[1, 0, 2]])  # PNG is lossless
    assert sizes == [(8, 8)] * 3
    assert image_files(tmp_path / "sub" / "c.png") == [("c.png", tmp_path / "sub" / "c.png")]
    gray, _ = images_from_files([tmp_path / "a.png"], (1, 8, 8))
    np.testing.assert_array_equal(gray, to_gray(images[1:2]))


def test_missing_files_and_empty_folders_are_named(tmp_path):
    with pytest.raises(DataError, match="no images found under"):
        image_files(tmp_path)
    with pytest.raises(DataError, match="not found: .*missing.png"):
        image_files([tmp_path / "missing.png"])
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataFormatError, match="cannot decode .*broken.png"):
        images_from_files([tmp_path / "broken.png"], (1, 4, 4))
