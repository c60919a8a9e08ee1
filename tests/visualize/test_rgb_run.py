"""Every figure of a real 10-class RGB run on an image folder of PNGs, and where figures read from."""

from __future__ import annotations

import csv
import json
import logging
import shutil

import numpy as np
import pytest
from PIL import Image

from cnnlab.config import load_experiments
from cnnlab.evaluate import evaluate_run, run_data
from cnnlab.experiment.engine import train
from cnnlab.runs import load_run
from cnnlab.visualize import feature_visualization, inputs_from_run, write_figures

NAMES = [f"class {chr(ord('a') + k)}" for k in range(10)]
PNGS = {
    "augmented_batch",
    "loss",
    "accuracy",
    "f1",
    "lr",
    "confusion_matrix",
    "confusion_matrix_normalized",
    "roc",
    "filters",
    "feature_maps",
    "misclassified",
    "gradcam",
}


def write_image_folder(root, per_class=6, side=16):
    """10 classes of 16x16 RGB PNGs: a class colour plus a class-dependent bright band, noisy."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(NAMES):
        (root / name).mkdir(parents=True)
        colour = np.array([(k * 67) % 256, (k * 131) % 256, (k * 29) % 256], dtype=np.float64)
        for i in range(per_class):
            pixels = colour + rng.normal(0, 40, (side, side, 3))
            pixels[k : k + 3] += 90
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").save(
                root / name / f"{i}.png"
            )
    return root


@pytest.fixture(scope="module")
def rgb_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("rgb")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNLAB_CACHE", str(root / "cache"))  # the folder's decoded arrays stay here
        folder = write_image_folder(root / "images")
        config = load_experiments(
            None,
            [
                f"data.dataset=imagefolder:{folder}",
                "data.val=10",
                "model.name=convnet_deep",
                "model.options={widths: [4, 8], hidden: [16]}",
                "train.epochs=2",
                "train.batch_size=8",
                "train.device=cpu",
                f"out={root}",
                "name=run",
            ],
        )[0]
        run_dir = train(config, quiet=True, report=False).run_dir
        yield run_dir, write_figures(run_dir)


def test_every_figure_is_written_and_decodes(rgb_run):
    run_dir, written = rgb_run
    assert {p.stem for p in written if p.suffix == ".png"} == PNGS
    assert {p.stem for p in written if p.suffix == ".svg"} == {
        "loss",
        "accuracy",
        "f1",
        "lr",
        "roc",
    }
    for path in written:
        if path.suffix == ".png":
            with Image.open(path) as image:
                image.load()
                assert image.mode in ("RGB", "RGBA")
                assert 250 <= image.size[0] <= 2500 and 150 <= image.size[1] <= 2500, path.name


def test_feature_maps_show_two_conv_layers_and_page_past_ten_images(rgb_run):
    run_dir, _ = rgb_run
    loaded = load_run(run_dir)
    from cnnlab.visualize.layers import conv_layers

    assert [name for name, _ in conv_layers(loaded.model)][:2] == [
        "net.stage1.conv1",
        "net.stage1.conv2",
    ]
    paths = feature_visualization(run_dir, list(range(10)) + [0])
    assert [p.name for p in paths] == ["feature_maps.png", "feature_maps_2.png"]
    pixels = np.random.default_rng(0).integers(0, 256, (3, 16, 16), dtype=np.uint8)
    assert [p.name for p in feature_visualization(run_dir, pixels, ["stage2.conv2"])] == [
        "feature_maps.png"
    ]


def test_grad_cam_looks_at_the_activation_after_the_last_conv(rgb_run):
    run_dir, _ = rgb_run
    from cnnlab.visualize.layers import gradcam_layer

    assert gradcam_layer(load_run(run_dir).model)[0] == "net.stage2.act2"


def copy_with_predictions(run_dir, tmp_path):
    """A copy of the run with an evaluate-style predictions.csv (every image called class 0)."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    loaded = load_run(copy)
    test = run_data(loaded).split("test")
    probabilities = np.full((len(test), 10), 0.05)
    probabilities[:, 0] = 0.55
    with open(copy / "predictions.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "label", "true_label", *(f"prob_{n}" for n in NAMES)])
        for i, label in enumerate(test.labels):
            writer.writerow([i, NAMES[0], NAMES[label], *(f"{p:.6f}" for p in probabilities[i])])
    return copy, loaded, test, probabilities


def test_figures_read_evaluates_predictions_and_confusion_matrix(rgb_run, tmp_path):
    run_dir, _ = rgb_run
    copy, loaded, test, probabilities = copy_with_predictions(run_dir, tmp_path)
    inputs = inputs_from_run(copy, vectors=True)
    np.testing.assert_array_equal(inputs.predictions.probabilities, probabilities)
    np.testing.assert_array_equal(inputs.predictions.predicted, np.zeros(len(test), np.int64))
    assert (
        inputs.metrics["confusion_matrix"]
        == json.loads((copy / "metrics.json").read_text())["confusion_matrix"]
    )  # evaluate's matrix, never recounted here
    written = [p.name for p in write_figures(copy, inputs)]
    for name in ("confusion_matrix.png", "confusion_matrix_normalized.png", "roc.png", "roc.svg"):
        assert name in written


def test_a_predictions_csv_for_another_split_is_not_used(rgb_run, tmp_path, caplog):
    run_dir, _ = rgb_run
    copy, loaded, test, _ = copy_with_predictions(run_dir, tmp_path)
    rows = (copy / "predictions.csv").read_text().splitlines()
    (copy / "predictions.csv").write_text("\n".join(rows[:-1]) + "\n")  # one image short
    with caplog.at_level(logging.INFO, logger="cnnlab.visualize"):
        inputs = inputs_from_run(copy)
    assert "does not match the run's test split; not used" in caplog.text
    assert inputs.predictions is None and inputs.metrics is None


def test_figures_use_what_evaluate_run_wrote(rgb_run, tmp_path):
    run_dir, _ = rgb_run
    copy = tmp_path / "evaluated"
    shutil.copytree(run_dir, copy)
    metrics = evaluate_run(copy)
    predictions = inputs_from_run(copy).predictions
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (predictions.y_true, predictions.predicted), 1)
    np.testing.assert_array_equal(confusion, metrics["confusion_matrix"])
