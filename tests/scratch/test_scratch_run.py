"""A scratch run is a normal cnnlab run: its directory, `cnnlab report` on it, and the config it accepts."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from cnnlab.cli import main
from cnnlab.config import load_experiments
from cnnlab.errors import ConfigError
from cnnlab.experiment.scratch_run import resolve, solver_config
from cnnlab.runs.predictions import read_predictions
from cnnlab.runs.rundir import EPOCH_COLUMNS, read_csv_rows
from cnnlab.scratch.npz import load_arrays


@pytest.fixture(scope="module")
def scratch_run(tmp_path_factory, rgb_folder):
    """`cnnlab scratch train` on the 10-class RGB PNG folder (6 train, 3 test per class), 2 epochs."""
    out = tmp_path_factory.mktemp("scratch_runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNLAB_CACHE", str(out / "cache"))
        code = main(
            [
                "scratch", "train", "--dataset", f"imagefolder:{rgb_folder}", "--val", "10",
                "--epochs", "2", "--batch-size", "10", "--filters", "4", "--filter-size", "3",
                "--hidden", "16", "--lr", "0.005", "--lr-decay", "0.5", "--out", str(out),
                "--quiet", "--no-report",
            ]
        )  # fmt: skip
    assert code == 0
    (run,) = [path for path in out.iterdir() if path.name != "cache"]
    return run


def test_run_directory_holds_what_the_torch_engine_writes(scratch_run):
    assert scratch_run.name.endswith("-scratch-three_layer_convnet")
    for name in ("config.yaml", "status.json", "env.json", "metrics.csv", "iterations.csv",
                 "train.log", "best.npz", "last.npz", "predictions.csv", "metrics.json",
                 "final_metrics.json"):  # fmt: skip
        assert (scratch_run / name).is_file(), name
    status = json.loads((scratch_run / "status.json").read_text())
    assert status["status"] == "finished" and status["epoch"] == 2
    with open(scratch_run / "metrics.csv", newline="") as stream:
        assert tuple(next(csv.reader(stream))) == EPOCH_COLUMNS
    epochs = read_csv_rows(scratch_run / "metrics.csv")
    assert [row["lr"] for row in epochs] == [0.005, 0.0025]
    iterations = read_csv_rows(scratch_run / "iterations.csv")
    assert len(iterations) == 2 * 5  # 50 training images in batches of 10
    lines = (scratch_run / "train.log").read_text().splitlines()
    assert re.fullmatch(r"test accuracy: 0\.\d{4}", lines[-1])
    final = json.loads((scratch_run / "final_metrics.json").read_text())
    assert "test_accuracy" not in final and 0 <= final["final_train_accuracy"] <= 1
    predictions = read_predictions(scratch_run / "predictions.csv")
    assert len(predictions.ids) == 30 and predictions.has_true_labels
    np.testing.assert_allclose(predictions.probabilities.sum(axis=1), 1, atol=1e-5)
    evaluated = json.loads((scratch_run / "metrics.json").read_text())
    assert lines[-1] == f"test accuracy: {evaluated['accuracy']:.4f}"  # one result, one owner
    assert evaluated["num_samples"] == 30
    weights = load_arrays(scratch_run / "best.npz")
    assert weights["params.W1"].shape == (4, 3, 3, 3) and weights["params.W1"].dtype == np.float32
    assert list(weights["class_names"]) == list(predictions.class_names)
    assert weights["input.mean"].shape == (3,)
    env = json.loads((scratch_run / "env.json").read_text())
    assert env["engine"] == "scratch (NumPy)" and "torch" not in env


def test_cnnlab_report_renders_a_scratch_run(scratch_run, copy_run, tmp_path, monkeypatch, capsys):
    from cnnlab.visualize import write_figures

    run = copy_run(scratch_run)
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    written = {path.name for path in write_figures(run)}
    assert {"filters.png", "loss.png", "accuracy.png", "confusion_matrix.png", "roc.png"} <= written
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text()
    markdown = (run / "report.md").read_text()
    assert "First-layer filters" in markdown and "figures/filters.png" in markdown
    assert "NumPy scratch engine" in markdown and "`W1` | 4×3×3×3" in markdown
    assert "cpu, NumPy" in markdown
    assert "<img" in html and "Confusion matrix" in html


def test_config_keys_the_engine_cannot_honour_are_named():
    def config(*overrides):
        return load_experiments(None, ["model.name=scratch:fc", *overrides])[0]

    assert solver_config(config("optim.optimizer=sgd")).update_rule == "sgd_momentum"
    assert solver_config(config("optim.optimizer=sgd", "optim.momentum=0")).update_rule == "sgd"
    decayed = solver_config(config("optim.schedule=step", "optim.step_size=1", "optim.gamma=0.8"))
    assert decayed.lr_decay == 0.8
    resolved = resolve(config("data.dataset=cifar10"))
    assert resolved.data.val == 1000 and resolved.name == "cifar10-scratch-fc"
    with pytest.raises(
        ConfigError,
        match="optim.optimizer: the scratch engine has sgd, adam and rmsprop, got 'adamw'",
    ):
        solver_config(config("optim.optimizer=adamw"))
    with pytest.raises(ConfigError, match="optim.schedule: .* got 'cosine'"):
        solver_config(config("optim.schedule=cosine"))
    with pytest.raises(
        ConfigError,
        match="does not support train.patience, data.augment; leave them at their defaults",
    ):
        solver_config(config("data.augment=flip", "train.patience=3"))
    with pytest.raises(ConfigError, match="does not support model.tta_flip"):
        solver_config(config("model.tta_flip=true"))
    with pytest.raises(ConfigError, match="does not support data.mixup, data.cutmix;"):
        solver_config(config("data.mixup=0.2", "data.cutmix=1"))
    with pytest.raises(
        ConfigError,
        match="model.name: a scratch run needs one of scratch:three_layer_convnet, scratch:fc, got 'conv1'",
    ):
        resolve(load_experiments(None, [])[0])


def test_the_engine_never_imports_torch():
    code = (
        "import sys, cnnlab.scratch\n"
        "from cnnlab.scratch import checks, composite, conv, gradient_check, layers, losses\n"
        "from cnnlab.scratch import models, norm, npz, optim, pool, solver\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
