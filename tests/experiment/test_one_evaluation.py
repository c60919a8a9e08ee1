"""One run, one test accuracy: the console summary, train.log (one line, last), metrics.json,
report.md and a sweep's results.csv all show the value `evaluate` computed once."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import yaml

from cnnlab.cli import main

SETTINGS = {
    "data": {"dataset": "mnist-sample", "classes": [0, 1, 7], "per_class": 12, "offline": True},
    "model": {"name": "conv1", "options": {"filters": 4}},
    "train": {"epochs": 2, "batch_size": 16, "device": "cpu"},
}


def result_lines(run: Path) -> list[str]:
    lines = (run / "train.log").read_text(encoding="utf-8").splitlines()
    assert lines[-1].startswith("test accuracy: ")
    return [line for line in lines if line.startswith("test accuracy")]


def assert_one_value_in_the_run(run: Path) -> float:
    """The run's files agree with its metrics.json; returns that accuracy."""
    accuracy = json.loads((run / "metrics.json").read_text())["accuracy"]
    assert result_lines(run) == [f"test accuracy: {accuracy:.4f}"]
    report = (run / "report.md").read_text(encoding="utf-8")
    assert f"| test accuracy | {accuracy:.4f} |" in report  # the summary table
    assert f"| accuracy | {accuracy:.4f} |" in report  # the metrics table
    assert "test_accuracy" not in json.loads((run / "final_metrics.json").read_text())
    return accuracy


def test_train_prints_and_writes_the_one_test_accuracy(tmp_path, capsys):
    config = tmp_path / "solo.yaml"
    config.write_text(yaml.safe_dump({**SETTINGS, "name": "solo", "out": str(tmp_path / "runs")}))
    assert main(["train", str(config), "--quiet"]) == 0
    run = tmp_path / "runs" / "solo"
    accuracy = assert_one_value_in_the_run(run)
    table = capsys.readouterr().out.splitlines()
    header = ["test", "acc", "test", "bal", "acc", "test", "F1", "time"]
    assert table[0].split()[-8:] == header
    row = table[1].split()
    assert row[0] == "solo" and row[-4] == f"{accuracy:.4f}"
    metrics = json.loads((run / "metrics.json").read_text())
    assert row[-3] == f"{metrics['balanced_accuracy']:.4f}"  # metrics.json's, one column on
    recalls = ", ".join(f"{c['class']} {c['recall']:.3f}" for c in metrics["per_class"])
    assert table[2] == f"test recall per class: {recalls}"  # and each class's recall under it

    spec = tmp_path / "sweep.yaml"
    spec.write_text(yaml.safe_dump({"name": "one", "base": SETTINGS, "grid": {"train.seed": [0]}}))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweeps")]) == 0
    with open(tmp_path / "sweeps" / "one" / "results.csv", newline="") as stream:
        (only,) = list(csv.DictReader(stream))
    swept = tmp_path / "sweeps" / "one" / "runs" / only["run"]
    assert float(only["test_accuracy"]) == assert_one_value_in_the_run(swept)
    printed = capsys.readouterr().out
    assert re.search(rf"\b{float(only['test_accuracy']):.4f}\b", printed)  # results.md printed
    assert float(only["test_accuracy"]) == accuracy  # same config and seed, same result
