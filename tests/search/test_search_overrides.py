"""The shipped example search spec, and overrides (--set, --epochs, --per-class) on a search."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from cnnlab.cli import main
from cnnlab.config import Overrides
from cnnlab.errors import ConfigError
from cnnlab.search import load_search_spec, run_search

EXAMPLE = Path(__file__).parents[2] / "examples" / "search-mnist.yaml"
SHRINK = ["--epochs", "1", "--per-class", "6", "--set", "train.device=cpu", "--no-report"]


def test_the_example_spec_runs_two_trials_offline_with_overrides(tmp_path, capsys):
    assert main(["search", str(EXAMPLE), "--trials", "2", "--out", str(tmp_path), *SHRINK]) == 0
    assert "search-mnist" in capsys.readouterr().out
    study_dir = tmp_path / "search-mnist"
    study = optuna.load_study(study_name="search-mnist", storage=f"sqlite:///{study_dir}/study.db")
    assert [t.state for t in study.get_trials()] == [optuna.trial.TrialState.COMPLETE] * 2
    for trial in ("trial-0000", "trial-0001"):
        config = yaml.safe_load((study_dir / trial / "config.yaml").read_text(encoding="utf-8"))
        assert config["train"]["epochs"] == 1 and config["data"]["per_class"] == 6
        assert config["data"]["dataset"] == "mnist-sample" and config["data"]["offline"]
        assert config["train"]["device"] == "cpu"
    assert "| trial" in (study_dir / "results.md").read_text(encoding="utf-8")


def test_a_changed_override_is_refused_by_the_existing_study(tmp_path):
    spec = load_search_spec(EXAMPLE, Overrides({"train.epochs": 1, "data.per_class": 4}))
    run_search(spec, 1, out=tmp_path, report=False)
    changed = load_search_spec(EXAMPLE, Overrides({"train.epochs": 2, "data.per_class": 4}))
    with pytest.raises(ConfigError, match=r"another base config .*train.epochs: 1 -> 2"):
        run_search(changed, 1, out=tmp_path, report=False)
    assert len(list((tmp_path / "search-mnist").glob("trial-*"))) == 1  # no trial started


def test_an_override_of_a_searched_key_is_refused():
    with pytest.raises(
        ConfigError, match=r"override of optim.lr would be replaced by the searched"
    ):
        load_search_spec(EXAMPLE, Overrides(texts=("optim.lr=0.1",)))
