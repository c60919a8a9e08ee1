"""Sweep overrides (--set, --epochs, --per-class), runs of another config never reused, and a
needed sweep checked before any run."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from cnnlab.cli import main, sweep_cmd
from cnnlab.errors import ConfigError
from cnnlab.sweep import load_spec, run_sweep, runner, spec_from_dict

RECIPES = Path(__file__).parents[2] / "configs" / "recipes"
TINY = {
    "data": {"dataset": "mnist-sample", "classes": [0, 1], "per_class": 8, "offline": True},
    "model": {"name": "fc_only"},
    "train": {"epochs": 2, "batch_size": 8, "device": "cpu"},
}


def write_spec(tmp_path: Path, **extra) -> Path:
    path = tmp_path / "spec.yaml"
    spec = {"name": "tiny", "base": TINY, "grid": {"optim.lr": [0.01, 0.001]}, **extra}
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def sweep(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sweep_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["sweep", *argv])
    return args.func(args)


def saved_config(tmp_path: Path, run: str) -> dict:
    return yaml.safe_load((tmp_path / "out" / "tiny" / "runs" / run / "config.yaml").read_text())


def no_training(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a run was trained")

    monkeypatch.setattr(runner.experiment, "train", refuse)
    monkeypatch.setattr(runner.experiment, "resume", refuse)


def test_overrides_apply_to_every_run_after_quick(tmp_path, capsys):
    spec = write_spec(tmp_path, quick={"train.epochs": 3, "train.batch_size": 16})
    out = str(tmp_path / "out")
    argv = [str(spec), "--out", out, "--quick", "--no-report", "--epochs", "1", "--per-class", "4"]
    assert sweep(*argv, "--set", "optim.weight_decay=1e-3", "--set", "data.classes=[3,7]") == 0
    for run in ("lr=0.01,seed=0", "lr=0.001,seed=0"):
        config = saved_config(tmp_path, run)
        assert config["train"]["epochs"] == 1  # --epochs wins over quick's 3
        assert config["train"]["batch_size"] == 16  # quick still applies where not overridden
        assert config["data"]["per_class"] == 4
        assert config["data"]["classes"] == [3, 7]  # --set is read as YAML, typed
        assert config["optim"]["weight_decay"] == pytest.approx(1e-3)
    assert "time (s)" in capsys.readouterr().out


def test_a_changed_override_refuses_to_reuse_runs_of_another_config(tmp_path, monkeypatch):
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    first = run_sweep(spec, out, report=False, overrides=["train.epochs=1"])
    assert [row["status"] for row in first.rows] == ["finished", "finished"]
    no_training(monkeypatch)
    with pytest.raises(ConfigError) as caught:
        run_sweep(spec, out, report=False, overrides={"train.epochs": 2})
    message = str(caught.value)
    assert "2 run(s)" in message and "lr=0.01,seed=0 (train.epochs: 1 -> 2)" in message
    assert "another --out" in message
    again = run_sweep(spec, out, report=False, overrides=["train.epochs=1"])  # the same: reused
    assert [row["status"] for row in again.rows] == ["finished", "finished"]


def test_an_override_of_a_swept_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"override of optim.lr would be replaced by the grid"):
        load_spec(write_spec(tmp_path), overrides=_texts("optim.lr=0.1"))
    variant = {"variant": [{"label": "a", "model.options": {"hidden": [4]}}]}
    spec = spec_from_dict({"name": "v", "base": TINY, "grid": variant})
    with pytest.raises(ConfigError, match=r"sets model.options at every run"):
        spec.with_overrides(_texts("model.options.hidden=[8]"))


def _texts(*texts: str):
    from cnnlab.config import Overrides

    return Overrides(texts=texts)


def test_quick_can_replace_a_swept_keys_values(tmp_path):
    spec = load_spec(write_spec(tmp_path, quick={"optim.lr": [0.5]}), quick=True)
    assert spec.grid == (("optim.lr", (0.5,)),)
    with pytest.raises(ConfigError, match=r"quick: grid.optim.lr: expected a non-empty list"):
        load_spec(write_spec(tmp_path, quick={"optim.lr": 0.5}))


def test_transfer_recipe_without_its_backbone_stops_before_any_run(tmp_path, capsys):
    recipe = RECIPES / "transfer-vs-scratch.yaml"
    assert main(["sweep", str(recipe), "--quick", "--out", str(tmp_path)]) != 0
    error = capsys.readouterr().err
    assert error.startswith("cnnlab: error: sweep transfer-vs-scratch trains from the runs of ")
    assert "does not exist" in error
    command = f"cnnlab sweep {RECIPES / 'cifar10-five-class-pretrain.yaml'}"
    assert f"{command} --out {tmp_path} --quick" in error.replace("configs/recipes", str(RECIPES))
    assert not (tmp_path / "transfer-vs-scratch").exists()  # no run started, none marked failed


def test_a_missing_backbone_is_found_before_any_run_without_needs(tmp_path):
    grid = {"variant": [{"label": "scratch"}, {"label": "t", "model.pretrained": "nowhere/run"}]}
    spec = spec_from_dict({"name": "t", "base": TINY, "grid": grid})
    with pytest.raises(ConfigError, match=r"sweep t, run variant=t,seed=0: model.pretrained"):
        run_sweep(spec, tmp_path, report=False)
    assert not any((tmp_path / "t" / "runs").iterdir())  # no run started
