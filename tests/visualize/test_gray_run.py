"""Every figure of a real 3-class grayscale run (mnist-sample 0, 1, 7), and what is skipped when."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli import visualize_cmd
from cnnlab.errors import CnnlabError, ConfigError, DataError, DataFormatError
from cnnlab.evaluate import run_data
from cnnlab.runs import load_run
from cnnlab.visualize import feature_visualization, inputs_from_run, write_figures

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
SVGS = {"loss", "accuracy", "f1", "lr", "roc"}


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory, make_gray_run):
    run_dir = make_gray_run(tmp_path_factory.mktemp("gray"), "conv")
    return run_dir, write_figures(run_dir)


def test_every_figure_is_written_as_a_readable_png(conv_run):
    run_dir, written = conv_run
    assert {p.stem for p in written if p.suffix == ".png"} == PNGS
    assert {p.stem for p in written if p.suffix == ".svg"} == SVGS
    assert all(p.parent == run_dir / "figures" and p.is_file() for p in written)
    for path in written:
        if path.suffix == ".png":
            with Image.open(path) as image:
                image.load()
                assert 250 <= image.size[0] <= 2500 and 150 <= image.size[1] <= 2500, path.name


def test_figures_read_the_runs_one_evaluation(conv_run, tmp_path, caplog):
    run_dir, _ = conv_run
    loaded = load_run(run_dir)
    test = run_data(loaded).split("test")
    inputs = inputs_from_run(run_dir)
    predictions = inputs.predictions
    np.testing.assert_array_equal(predictions.positions, np.arange(len(test)))
    np.testing.assert_array_equal(predictions.y_true, test.labels)
    np.testing.assert_allclose(predictions.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    log_line = (run_dir / "train.log").read_text().splitlines()[-1]
    accuracy = float(np.mean(predictions.predicted == test.labels))
    assert log_line == f"test accuracy: {accuracy:.4f}"
    assert (
        inputs.metrics["confusion_matrix"]
        == json.loads((run_dir / "metrics.json").read_text())["confusion_matrix"]
    )
    copy = Path(shutil.copytree(run_dir, tmp_path / "unevaluated"))
    (copy / "predictions.csv").unlink()  # figures never score the test set themselves
    with caplog.at_level(logging.INFO, logger="cnnlab.visualize"):
        names = {p.stem for p in write_figures(copy)}
    assert "confusion_matrix" not in names and "roc" not in names and "filters" in names
    assert "figure roc skipped: the run has no test predictions" in caplog.text


def test_feature_maps_for_chosen_indices_and_arrays(conv_run):
    run_dir, _ = conv_run
    paths = feature_visualization(run_dir, [5, 0], ["net.conv"])
    assert [p.name for p in paths] == ["feature_maps.png"]
    pixels = np.random.default_rng(0).random((1, 28, 28))  # one float image in [0, 1]
    assert feature_visualization(run_dir, pixels, ["conv"]) == paths
    with pytest.raises(
        DataError, match=r"index 999 is out of range: the test split has \d+ images"
    ):
        feature_visualization(run_dir, [999])
    with pytest.raises(DataFormatError, match=r"shape \(N, 1, 28, 28\) like the model's input"):
        feature_visualization(run_dir, np.zeros((2, 3, 28, 28), np.uint8))
    with pytest.raises(DataFormatError, match=r"float images must lie in \[0, 1\]"):
        feature_visualization(run_dir, np.full((1, 1, 28, 28), 3.0))
    with pytest.raises(CnnlabError, match="no layer named 'net.fc2'"):
        feature_visualization(run_dir, [0], ["net.fc2"])


def test_a_model_without_conv_layers_skips_its_conv_figures(tmp_path, caplog, make_gray_run):
    run_dir = make_gray_run(tmp_path, "fc", "model.name=fc_only")
    with caplog.at_level(logging.INFO, logger="cnnlab.visualize"):
        written = write_figures(run_dir)
    names = {p.stem for p in written}
    assert {"loss", "confusion_matrix", "roc"} <= names
    assert not names & {"filters", "feature_maps", "gradcam"}
    assert "figure filters skipped: model 'fc_only' has no conv layer" in caplog.text
    assert "figure feature_maps skipped: model 'fc_only' has no conv layer" in caplog.text


def test_a_run_without_metrics_skips_the_curves_and_a_non_run_is_refused(
    conv_run, tmp_path, caplog
):
    run_dir, _ = conv_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "metrics.csv").unlink()
    with caplog.at_level(logging.INFO, logger="cnnlab.visualize"):
        names = {p.stem for p in write_figures(copy)}
    assert not names & {"loss", "accuracy", "f1", "lr"} and "confusion_matrix" in names
    assert "figure loss skipped: metrics.csv has no epochs yet" in caplog.text
    with pytest.raises(CnnlabError, match="run directory .*nothing does not exist"):
        write_figures(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CnnlabError, match="is not a cnnlab run: config.yaml is missing"):
        write_figures(tmp_path / "empty")


def test_cli_features_verb_writes_the_pages(conv_run, capsys):
    run_dir, _ = conv_run
    parser = argparse.ArgumentParser()
    visualize_cmd.add_parser(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(["features", str(run_dir), "--images", "1,2", "--layers", "net.conv"])
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip() == str(run_dir / "figures" / "feature_maps.png")
    with pytest.raises(ConfigError, match="--images must be comma-separated test indices"):
        visualize_cmd.parse_indices("a,b")
