"""The runs table's rows, read from hand-written run files: the columns the table shows, from
the cheap reads a listing of 1,000 runs makes (#22), and what a damaged file leaves."""

from __future__ import annotations

import json
import os

from cnnlab.config import build_config
from cnnlab.runs import RunDir
from cnnlab.serve.runs_index import RunsIndex, find_runs, summary_row

HEADER = "epoch,train_loss,val_loss,val_accuracy,lr\n"


def a_run(folder, epochs_csv: str | None = None, config_text: str | None = None) -> RunDir:
    run = RunDir(folder)
    run.path.mkdir(parents=True)
    if config_text is None:
        run.write_config(build_config({"model": {"name": "conv1"}, "train": {"epochs": 5}}))
    else:
        run.config_path.write_text(config_text, encoding="utf-8")
    run.write_status("running", epoch=3)
    if epochs_csv is not None:
        run.metrics_path.write_text(epochs_csv, encoding="utf-8")
    return run


def touch_later(path, seconds=5):
    later = path.stat().st_mtime + seconds
    os.utime(path, (later, later))  # a new mtime even on coarse clocks


def test_epochs_and_the_best_validation_accuracy_come_from_one_column(tmp_path):
    text = HEADER + "1,2.0,1.9,0.25,0.1\n2,1.5,1.4,,0.1\n\n3,1.0,0.9,0.5,0.1\n4,0.9\n"
    run = a_run(tmp_path / "r", text)
    row = summary_row(tmp_path, run.path)
    assert (row["epochs_done"], row["best_val_accuracy"]) == (4, 0.5)
    assert (row["model"], row["epochs_planned"], row["status"]) == ("conv1", 5, "running")
    assert row["errors"] == []
    val = [epoch["val_accuracy"] for epoch in run.read_epochs()]  # the full reader agrees
    assert run.read_epoch_column("val_accuracy") == val == [0.25, None, 0.5, None]


def test_a_table_without_validation_has_epochs_but_no_best(tmp_path):
    run = a_run(tmp_path / "r", "epoch,train_loss\n1,2.0\n2,1.5\n")
    row = summary_row(tmp_path, run.path)
    assert (row["epochs_done"], row["best_val_accuracy"]) == (2, None)


def test_a_damaged_table_names_the_file_and_the_other_columns_stay(tmp_path):
    run = a_run(tmp_path / "r", HEADER + "1,2.0,1.9,high,0.1\n")
    row = summary_row(tmp_path, run.path)
    assert row["epochs_done"] is None and row["model"] == "conv1" and row["status"] == "running"
    assert len(row["errors"]) == 1 and "metrics.csv: not a readable table" in row["errors"][0]


def test_names_yaml_reads_as_other_types_are_listed_as_text(tmp_path):
    config = "model:\n  name: 2024-01-01\ndata:\n  dataset: .nan\ntrain:\n  epochs: 010\n"
    a_run(tmp_path / "runs" / "r", config_text=config)
    cache = tmp_path / "listing.json"
    [row] = RunsIndex(tmp_path / "runs", cache).rows()
    assert (row["model"], row["dataset"], row["epochs_planned"]) == ("2024-01-01", "nan", 8)
    assert json.loads(cache.read_text())["rows"]["r"]["row"] == row  # kept: valid JSON


def test_a_new_epoch_changes_the_row_on_the_next_listing(tmp_path):
    run = a_run(tmp_path / "runs" / "r", HEADER + "1,2.0,1.9,0.25,0.1\n")
    index = RunsIndex(tmp_path / "runs")
    assert index.rows()[0]["epochs_done"] == 1
    run.metrics_path.write_text(HEADER + "1,2.0,1.9,0.25,0.1\n2,1.0,0.9,0.75,0.1\n")
    touch_later(run.metrics_path)
    assert (index.rows()[0]["epochs_done"], index.rows()[0]["best_val_accuracy"]) == (2, 0.75)
    run.final_path.write_text('{"train_seconds": 12.5}\n')
    assert index.rows()[0]["train_seconds"] == 12.5  # a file that was missing appears


def test_which_folders_are_runs(tmp_path):
    root = tmp_path / "runs"
    for name in ("a", "sweep/runs/b", ".hidden/c", "a/export/inner", "odd/d"):
        a_run(root / name)
    (root / "odd" / "status.json").mkdir()  # the marks must be files: odd is searched, not listed
    (root / "odd" / "config.yaml").write_text("model: {name: x}\n")
    (root / "linked").symlink_to(root / "sweep", target_is_directory=True)
    a_run(root / "empty-status")
    (root / "empty-status" / "status.json").write_text("")  # a run, whose status is unreadable
    ids = [row["id"] for row in RunsIndex(root).rows()]
    assert ids == ["a", "empty-status", "odd/d", "sweep/runs/b"]
    assert find_runs(root / "sweep" / "runs" / "b") == []  # the folder served is never a row
