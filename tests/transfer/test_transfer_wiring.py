"""Wiring: config keys and their errors, the CLI flags, where model.pretrained is looked up,
config.yaml naming the backbone's model, resume and reloading of a transfer run."""

from __future__ import annotations

import argparse
import os

import pytest
import yaml

from cnnlab.cli import train_cmd
from cnnlab.config import build_config, load_experiments
from cnnlab.errors import ConfigError
from cnnlab.experiment.engine import resume, train
from cnnlab.runs import RunDir, load_run
from cnnlab.transfer import find_source, resolve_config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.strategy=freeze"], "train.strategy: expected one of finetune, linear-probe"),
        (["train.strategy=linear-probe"], "train.strategy: expected model.pretrained to be set"),
        (["train.backbone_lr_mult=0.1"], "train.backbone_lr_mult: expected model.pretrained"),
        (["model.resize=true"], "model.resize: expected model.pretrained to be set"),
        (
            ["model.pretrained=r", "train.backbone_lr_mult=0"],
            "backbone_lr_mult: expected a positive",
        ),
        (
            ["model.pretrained=r", "train.head_epochs=0"],
            "train.head_epochs: expected an integer >= 1",
        ),
        (
            [
                "model.pretrained=r",
                "train.strategy=two-stage",
                "train.head_epochs=3",
                "train.epochs=3",
            ],
            r"train.head_epochs: expected fewer than train.epochs \(3\) with train.strategy two-stage",
        ),
        (
            ["model.pretrained=r", "train.strategy=linear-probe", "train.backbone_lr_mult=0.5"],
            "train.backbone_lr_mult: expected 1 with train.strategy linear-probe",
        ),
        (["model.pretrained="], "model.pretrained: expected a run directory, a weights file"),
    ],
)
def test_bad_transfer_settings_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_experiments(None, overrides)


def test_cli_flags_set_pretrained_and_strategy(tmp_path):
    parser = argparse.ArgumentParser()
    train_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(
        [
            "train",
            "--pretrained",
            str(tmp_path / "runs/a"),
            "--strategy",
            "two-stage",
            "--epochs",
            "3",
        ]
    )
    config = load_experiments(None, train_cmd.overrides_from_flags(args))[0]
    assert config.model.pretrained == str(tmp_path / "runs/a")
    assert (config.train.strategy, config.train.head_epochs) == ("two-stage", 1)


def test_a_relative_reference_is_found_from_the_cwd_then_from_out(deep_run, tmp_path, monkeypatch):
    monkeypatch.chdir(deep_run.parent)
    assert find_source("deep") == find_source(str(deep_run))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "sweep" / "runs"  # as a sweep names a neighbouring sweep's run
    out.mkdir(parents=True)
    assert find_source(os.path.relpath(deep_run, out), out=out).path == deep_run
    assert find_source(str(deep_run / "last.pt")).checkpoint == "last"
    with pytest.raises(ConfigError, match=r"'nowhere' was not found \(looked at nowhere and"):
        find_source("nowhere", out=tmp_path / "runs")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ConfigError, match="plain is a directory but not a cnnlab run"):
        find_source("plain")


def test_config_yaml_names_the_backbones_model(deep_run, tmp_path, make_transfer_config):
    config = resolve_config(make_transfer_config(tmp_path, "t", deep_run))
    assert (config.model.name, config.model.options) == (
        "convnet_deep",
        {"widths": [4, 8], "hidden": [16]},
    )
    assert config.run_name == "t"
    other = make_transfer_config(tmp_path, "t", deep_run, "model.name=resnet18")
    with pytest.raises(ConfigError, match="model.name 'resnet18' .* its model is 'convnet_deep'"):
        resolve_config(other)


def test_a_transfer_run_resumes_and_reloads(deep_run, tmp_path, make_transfer_config):
    config = make_transfer_config(tmp_path, "resumed", deep_run, "train.strategy=linear-probe")
    run = RunDir(train(config, quiet=True, report=False).run_dir)
    saved = yaml.safe_load(run.config_path.read_text())
    assert saved["model"]["pretrained"] == str(deep_run)
    assert saved["model"]["name"] == "convnet_deep"
    saved["train"]["epochs"] = 2  # as if it had been stopped after its first epoch of two
    run.write_config(build_config(saved))
    run.write_status("interrupted", epoch=1)
    result = resume(run.path, quiet=True, report=False)
    assert result.status == "finished" and len(result.history.epochs) == 2
    assert "resumed from last.pt after epoch 1" in (run.path / "train.log").read_text()
    loaded = load_run(run.path, "last")
    assert loaded.model.net.head.out_features == 5 and loaded.model.net.frozen
    assert build_config(saved).model.pretrained == str(deep_run)
