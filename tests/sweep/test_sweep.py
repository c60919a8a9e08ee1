"""Sweeps: a tiny grid end to end, resume without re-training, diverged and failed runs, recipes."""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import pytest
import yaml

from cnnlab.cli import sweep_cmd
from cnnlab.errors import ConfigError
from cnnlab.sweep import expand, load_spec, run_sweep, runner, spec_from_dict
from cnnlab.sweep.table import results_markdown

RECIPES = sorted((Path(__file__).parents[2] / "configs" / "recipes").glob("*.yaml"))
TINY = {
    "data": {"dataset": "mnist-sample", "classes": [0, 1], "per_class": 8, "offline": True},
    "model": {"name": "fc_only"},
    "train": {"epochs": 1, "batch_size": 8, "device": "cpu"},
}


def tiny_spec(grid: dict, **extra) -> dict:
    return {"name": "tiny", "base": TINY, "grid": grid, **extra}


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_grid_table_figures_and_resume(tmp_path, monkeypatch):
    spec = spec_from_dict(
        tiny_spec({"model.name": ["fc_only", "conv1"], "optim.lr": [0.01, 0.001]})
    )
    result = run_sweep(spec, tmp_path, report=False)
    rows = read_rows(result.csv_path)
    assert [r["run"] for r in rows] == [
        "model=fc_only,lr=0.01,seed=0", "model=fc_only,lr=0.001,seed=0",
        "model=conv1,lr=0.01,seed=0", "model=conv1,lr=0.001,seed=0",
    ]  # fmt: skip
    assert list(rows[0]) == [
        "run", "model.name", "optim.lr", "seed", "status", "test_accuracy", "test_f1_macro",
        "epochs", "time_s",
    ]  # fmt: skip
    assert {r["status"] for r in rows} == {"finished"}
    assert all(0 <= float(r["test_accuracy"]) <= 1 for r in rows)
    markdown = re.sub(" +", " ", result.markdown_path.read_text(encoding="utf-8"))  # unpadded
    assert "| model \\ lr | 0.01 | 0.001 |" in markdown
    assert "## test_f1_macro" in markdown
    assert [p.name for p in result.figures] == [
        "test_accuracy.png",
        "test_f1_macro.png",
        "epoch_accuracy.png",
    ]
    assert all(p.stat().st_size > 1000 for p in result.figures)
    for row in rows:
        assert (tmp_path / "tiny" / "runs" / row["run"] / "status.json").is_file()

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(runner.experiment, "train", no_training)
    monkeypatch.setattr(runner.experiment, "resume", no_training)
    again = run_sweep(spec, tmp_path, report=False)
    assert read_rows(again.csv_path) == rows  # rebuilt, not appended
    assert sorted(p.name for p in (tmp_path / "tiny" / "runs").iterdir()) == sorted(
        r["run"] for r in rows
    )  # no `-2` copies


def test_diverged_and_failed_runs_are_marked_and_the_sweep_goes_on(tmp_path, sweep_run_fails_at):
    spec = spec_from_dict(
        tiny_spec(
            {"optim.lr": [1e30, 0.01]},
            base={**TINY, "model": {"name": "conv1"}, "optim": {"optimizer": "sgd"}},
        )
    )
    result = run_sweep(spec, tmp_path, report=False)
    statuses = [row["status"] for row in read_rows(result.csv_path)]
    assert statuses == ["diverged", "finished"]
    assert "diverged" in result.markdown_path.read_text(encoding="utf-8")

    sweep_run_fails_at(0.5, ValueError("disk on fire"))
    spec = spec_from_dict(tiny_spec({"optim.lr": [0.5, 0.01]}, name="broken"))
    rows = read_rows(run_sweep(spec, tmp_path, report=False).csv_path)
    assert rows[0]["status"] == "failed: disk on fire"
    assert rows[0]["test_accuracy"] == ""
    assert rows[1]["status"] == "finished"


def test_seeds_give_mean_and_std(tmp_path):
    spec = spec_from_dict(tiny_spec({"model.name": ["fc_only"]}, seeds=[0, 1]))
    runs = expand(spec, tmp_path)
    assert [r.name for r in runs] == ["model=fc_only,seed=0", "model=fc_only,seed=1"]
    assert [r.config.train.seed for r in runs] == [0, 1]
    result = run_sweep(spec, tmp_path, report=False)
    text = result.markdown_path.read_text(encoding="utf-8")
    assert " ± " in text and "\n2 runs; mean ± std over 2 seeds." in text


def test_one_run_is_counted_in_the_singular():
    spec = spec_from_dict(tiny_spec({"model.name": ["fc_only"]}))
    row = {"run": "model=fc_only", "model.name": "fc_only", "seed": 0, "status": "finished"}
    text = results_markdown(spec, [row])
    assert "\n1 run; one seed per grid point." in text


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"grids": {}}, "unknown key grids"),
        ({"grid": {"optim.lr": 0.1}}, "grid.optim.lr"),
        ({"grid": {"optim.lrr": [0.1]}}, "optim.lrr"),
        ({"grid": {"optim.schedule": ["cosin"]}}, "optim.schedule: expected one of constant"),
        ({"metrics": ["accuracy"]}, "metrics"),
        ({"seeds": [0, 0]}, "seeds"),
        ({"name": ""}, "name"),
        ({"base": "missing.yaml"}, "base"),
        ({"grid": {"variant": [{"model.name": "conv1"}]}}, r"grid.variant\[0\]"),
        ({"grid": {"data.per_class": [8, 8.0]}}, "same name"),
    ],
)
def test_spec_errors_name_the_key(tmp_path, change, key):
    with pytest.raises(ConfigError, match=key):
        expand(spec_from_dict({**tiny_spec({}), **change}, spec_dir=tmp_path), tmp_path)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipes_parse_and_expand(recipe, tmp_path):
    text = recipe.read_text(encoding="utf-8")
    assert "wall time" in text and "quick" in yaml.safe_load(text)
    for quick in (False, True):
        runs = expand(load_spec(recipe, quick=quick), tmp_path)
        assert runs and len({r.name for r in runs}) == len(runs)
        if quick:
            assert all(r.config.data.dataset == "mnist-sample" for r in runs)
            assert all(r.config.data.offline for r in runs)


def test_recipe_quick_end_to_end_through_the_cli(tmp_path, capsys):
    recipe = next(p for p in RECIPES if p.stem == "fashion-mnist-variant4")
    parser = argparse.ArgumentParser()
    sweep_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["sweep", str(recipe), "--out", str(tmp_path), "--quick"])
    assert args.func(args) == 0
    folder = tmp_path / "fashion-mnist-variant4"
    rows = read_rows(folder / "results.csv")
    assert [r["status"] for r in rows] == ["finished"]
    assert (folder / "runs" / rows[0]["run"] / "predictions.csv").is_file()
    assert (folder / "comparison" / "comparison.html").is_file()
    assert "sweep directory" in capsys.readouterr().out


def test_workers_run_in_parallel_processes_with_the_cores_split(tmp_path):
    import os

    import cnnlab

    spec_path = tmp_path / "two.yaml"
    spec_path.write_text(yaml.safe_dump(tiny_spec({"optim.lr": [0.01, 0.001]})))
    result = cnnlab.run_sweep(spec_path, tmp_path / "out", workers=2, report=False)
    assert [row["status"] for row in result.rows] == ["finished", "finished"]
    cores = len(os.sched_getaffinity(0))
    for row in result.rows:
        saved = yaml.safe_load((result.sweep_dir / "runs" / row["run"] / "config.yaml").read_text())
        assert saved["train"]["threads"] == max(1, cores // 2)
    with pytest.raises(ConfigError, match="--workers: expected an integer >= 1, got 0"):
        cnnlab.run_sweep(spec_path, tmp_path / "out", workers=0)
