"""A run directory written before runs recorded their architecture (cnnlab 0.1, checked in
under tests/fixtures) still evaluates, draws and reports; a 0.1 transfer run says what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from cnnlab.cli import main
from cnnlab.errors import TrainingError
from cnnlab.runs import load_run

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "legacy-run-0.1"


@pytest.fixture
def legacy(tmp_path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "legacy-conv1"))


def test_a_legacy_run_evaluates_draws_and_reports(legacy, capsys):
    loaded = load_run(legacy)
    assert loaded.model.architecture == {
        "kind": "model",
        "name": "conv1",
        "options": {"filters": 4},
    }
    assert main(["eval", str(legacy)]) == 0
    metrics = json.loads((legacy / "metrics.json").read_text())
    assert metrics["num_samples"] == 158 and 0 <= metrics["accuracy"] <= 1
    lines = (legacy / "train.log").read_text().splitlines()
    results = [line for line in lines if line.startswith("test accuracy:")]
    assert results == [lines[-1]] == [f"test accuracy: {metrics['accuracy']:.4f}"]
    assert main(["figures", str(legacy)]) == 0
    assert (legacy / "figures" / "filters.png").is_file()
    assert main(["report", str(legacy)]) == 0
    report = (legacy / "report.md").read_text(encoding="utf-8")
    assert f"| test accuracy | {metrics['accuracy']:.4f} |" in report
    assert "| train accuracy (evaluated weights) | 0.6250 |" in report  # 0.1's train_accuracy
    capsys.readouterr()
    out = legacy / "predictions-of-files.csv"
    assert main(["predict", str(legacy), "--images", "mnist-sample", "--out", str(out)]) == 0
    note = capsys.readouterr().err  # no input_stats.json in a 0.1 run: not checked, no error
    assert note.startswith("cnnlab: note:") and "no input_stats.json" in note


def test_a_legacy_transfer_run_names_what_to_do(legacy, capsys):
    config = yaml.safe_load((legacy / "config.yaml").read_text())
    config["model"]["pretrained"] = "runs/some-parent"
    (legacy / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(TrainingError, match=r"written by cnnlab 0\.1.*retrain it"):
        load_run(legacy)
    assert main(["eval", str(legacy)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("cnnlab: error:") and "Traceback" not in error
