"""TensorBoard logging (`train.tensorboard`, `--tensorboard`): the flag, the missing extra, the events."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli.train_cmd import add_parser, overrides_from_flags
from cnnlab.config import load_experiments
from cnnlab.errors import ConfigError
from cnnlab.experiment import engine as experiment
from cnnlab.experiment import train
from cnnlab.experiment.tensorboard import final_metrics, flat_hparams
from cnnlab.runs.rundir import read_csv_rows

BASE = [
    "data.dataset=mnist-sample", "data.classes=[0,1,7]", "data.per_class=8", "data.val=6",
    "data.offline=true", "model.name=conv1", "train.epochs=2", "train.batch_size=8",
    "train.device=cpu",
]  # fmt: skip


def parse_train(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(["train", *argv])


def test_flag_sets_the_key_and_its_absence_keeps_the_config():
    assert overrides_from_flags(parse_train("--tensorboard")).values["train.tensorboard"] is True
    assert "train.tensorboard" not in overrides_from_flags(parse_train()).values
    assert load_experiments(None, [])[0].train.tensorboard is False
    assert load_experiments(None, ["train.tensorboard=True"])[0].train.tensorboard is True
    with pytest.raises(
        ConfigError, match=r"train.tensorboard: expected true or false, got 'often'"
    ):
        load_experiments(None, ["train.tensorboard=often"])


def test_missing_package_fails_before_the_run_starts(tmp_path, monkeypatch):
    for module in ("tensorboard", "torch.utils.tensorboard"):
        monkeypatch.setitem(sys.modules, module, None)  # `import` of these now fails
    (config,) = load_experiments(None, [*BASE, f"out={tmp_path}", "train.tensorboard=true"])
    with pytest.raises(
        ConfigError, match=r"train.tensorboard: .*pip install cnnlab\[tensorboard\]"
    ):
        experiment.train(config, quiet=True)
    assert not (tmp_path / config.run_name).exists()  # nothing was started


def test_hparams_are_the_config_leaves_without_paths_or_unset_values():
    config = {
        "name": "run", "out": "runs",
        "data": {"dataset": "mnist", "classes": [0, 1], "data_dir": "/data", "per_class": None},
        "optim": {"lr": 0.01, "nesterov": False}, "train": {"epochs": 3},
    }  # fmt: skip
    assert flat_hparams(config) == {
        "data.dataset": "mnist", "data.classes": "[0, 1]", "optim.lr": 0.01,
        "optim.nesterov": False, "train.epochs": 3,
    }  # fmt: skip


def test_final_metrics_take_numbers_from_both_metric_files(tmp_path):
    (tmp_path / "final_metrics.json").write_text(
        json.dumps({"train_accuracy": 1, "test_accuracy": 0.5, "test_eval_seconds": 0.1})
    )
    (tmp_path / "metrics.json").write_text(
        json.dumps({"accuracy": 0.5, "auc_micro": 0.25, "auc_macro": None, "split": "test"})
    )
    assert final_metrics(tmp_path) == {
        "hparams/train_accuracy": 1.0,
        "hparams/test_accuracy": 0.5,
        "hparams/test_auc_micro": 0.25,
    }


@pytest.mark.slow
def test_training_writes_scalars_images_and_hparams(tmp_path):
    pytest.importorskip(
        "tensorboard", reason="tensorboard is not installed: pip install cnnlab[tensorboard]"
    )
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (config,) = load_experiments(
        None, [*BASE, f"out={tmp_path}", "name=tb", "train.tensorboard=true"]
    )
    run = train(config, quiet=True).run_dir
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    tags = events.Tags()

    epochs = read_csv_rows(run / "metrics.csv")
    for tag, column in (
        ("loss/train", "train_loss"),
        ("accuracy/val", "val_accuracy"),
        ("f1/val", "val_f1"),
    ):
        scalars = events.Scalars(tag)
        assert [s.step for s in scalars] == [1, 2]
        np.testing.assert_allclose(
            [s.value for s in scalars], [r[column] for r in epochs], rtol=1e-6
        )
    steps = read_csv_rows(run / "iterations.csv")
    loss = events.Scalars("loss/iteration")
    assert [s.step for s in loss] == [int(r["iteration"]) for r in steps]
    np.testing.assert_allclose([s.value for s in loss], [r["loss"] for r in steps], rtol=1e-6)
    assert {"lr/iteration", "lr/epoch", "loss/val", "accuracy/train", "f1/train"} <= set(
        tags["scalars"]
    )

    for name in ("confusion_matrix", "filters"):
        (image,) = events.Images(name)
        with Image.open(run / "figures" / f"{name}.png") as png:
            assert (image.width, image.height) == png.size

    test = json.loads((run / "metrics.json").read_text())
    (accuracy,) = events.Scalars("hparams/test_accuracy")
    assert accuracy.value == pytest.approx(test["accuracy"], rel=1e-6)
    assert {"hparams/test_f1_macro", "hparams/test_auc_micro"} <= set(tags["scalars"])
    hparams = events.PluginTagToContent("hparams")
    assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= set(hparams)
    assert b"optim.lr" in hparams["_hparams_/session_start_info"]
