"""`cnnlab train RECIPE.yaml` trains a single-run recipe as its sweep would (issue #24)."""

from __future__ import annotations

import json

import pytest
import yaml

from cnnlab.cli import main

BASE = {
    "data": {"dataset": "mnist-sample", "classes": [0, 1], "per_class": 8, "offline": True},
    "model": {"name": "fc_only"},
    "train": {"epochs": 1, "batch_size": 8, "device": "cpu", "seed": 3},
}


def test_a_single_run_recipe_trains_like_its_sweep(tmp_path, capsys):
    recipe = tmp_path / "one.yaml"
    recipe.write_text(yaml.safe_dump({"name": "one", "base": BASE}))
    assert main(["train", str(recipe), "--out", str(tmp_path / "train"), "--quiet"]) == 0
    trained = tmp_path / "train" / "one"  # named after the recipe
    assert (trained / "metrics.json").is_file()
    assert main(["sweep", str(recipe), "--out", str(tmp_path / "sweep"), "--no-report"]) == 0
    (swept,) = (tmp_path / "sweep" / "one" / "runs").iterdir()
    read = [json.loads((run / "metrics.json").read_text())["accuracy"] for run in (trained, swept)]
    assert read[0] == read[1]  # same config and seed, same result
    assert "run directory:" in capsys.readouterr().out


def test_a_recipe_of_several_runs_is_refused_with_the_sweep_command(tmp_path, capsys):
    recipe = tmp_path / "two.yaml"
    recipe.write_text(yaml.safe_dump({"name": "two", "base": BASE, "grid": {"optim.lr": [1, 2]}}))
    assert main(["train", str(recipe), "--out", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert "is a recipe of 2 runs" in error and f"cnnlab sweep {recipe}" in error
    assert not (tmp_path / "two").exists()


@pytest.mark.parametrize("flag", [["--name", "mine"]])
def test_name_flag_names_the_run(tmp_path, flag):
    recipe = tmp_path / "one.yaml"
    recipe.write_text(yaml.safe_dump({"name": "one", "base": BASE}))
    assert (
        main(["train", str(recipe), "--out", str(tmp_path), "--quiet", "--no-report", *flag]) == 0
    )
    assert (tmp_path / "mine" / "metrics.json").is_file()
