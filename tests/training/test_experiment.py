"""End to end on the embedded sample: run directory, resume, determinism, divergence, CLI."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from cnnlab.cli import main
from cnnlab.config import load_experiments
from cnnlab.errors import TrainingError
from cnnlab.experiment.engine import resume, train
from cnnlab.runs import RunDir
from cnnlab.training import load_checkpoint
from cnnlab.training.device import cpu_has_bf16

BASE = [
    "data.dataset=mnist-sample",
    "data.classes=[0,1,7]",
    "data.per_class=20",
    "data.val=9",
    "data.offline=true",
    "model.name=conv1",
    "train.epochs=4",
    "train.batch_size=16",
    "optim.schedule=cosine",
    "train.device=cpu",
]


def config(tmp_path, *extra):
    return load_experiments(None, [*BASE, f"out={tmp_path}", *extra])[0]


def read_metrics(run_dir):
    with open(run_dir / "metrics.csv") as stream:
        rows = list(csv.DictReader(stream))
    return [
        {k: v for k, v in row.items() if k not in ("epoch_seconds", "eval_seconds")} for row in rows
    ]


def test_run_directory_is_complete(tmp_path):
    result = train(config(tmp_path, "name=full"), quiet=True, report=False)
    run = result.run_dir
    for name in (
        "config.yaml",
        "env.json",
        "status.json",
        "metrics.csv",
        "iterations.csv",
        "train.log",
        "best.pt",
        "last.pt",
    ):
        assert (run / name).is_file(), name
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    env = json.loads((run / "env.json").read_text())  # what `precision: auto` chose, and why
    assert env["precision"] == ("bf16" if cpu_has_bf16() else "fp32")
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert len(read_metrics(run)) == 4
    assert (run / "train.log").read_text().splitlines()[-1].startswith("test accuracy: 0.")
    state = load_checkpoint(run / "best.pt")
    assert state["class_names"] == ["0", "1", "7"] and state["in_shape"] == [1, 28, 28]
    assert "model" in state and "optimizer" in state


def test_same_seed_gives_identical_metrics(tmp_path):
    first = train(config(tmp_path, "name=a"), quiet=True, report=False)
    second = train(config(tmp_path, "name=b"), quiet=True, report=False)
    assert read_metrics(first.run_dir) == read_metrics(second.run_dir)
    assert first.metrics["test_accuracy"] == second.metrics["test_accuracy"]


def test_resume_after_epoch_two_equals_uninterrupted_run(tmp_path, monkeypatch):
    uninterrupted = train(
        config(tmp_path, "name=whole", "data.augment=crop2,flip"), quiet=True, report=False
    )

    original = RunDir.write_epochs

    def stop_after_two(self, rows):
        original(self, rows)
        if len(rows) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(RunDir, "write_epochs", stop_after_two)
    with pytest.raises(KeyboardInterrupt):
        train(config(tmp_path, "name=cut", "data.augment=crop2,flip"), quiet=True, report=False)
    monkeypatch.setattr(RunDir, "write_epochs", original)
    cut = tmp_path / "cut"
    assert json.loads((cut / "status.json").read_text())["status"] == "interrupted"
    assert len(read_metrics(cut)) == 2

    resumed = resume(cut, quiet=True, report=False)
    assert resumed.status == "finished"
    assert read_metrics(cut) == read_metrics(uninterrupted.run_dir)
    assert resumed.metrics["test_accuracy"] == uninterrupted.metrics["test_accuracy"]
    whole_weights = load_checkpoint(uninterrupted.run_dir / "last.pt")["model"]
    cut_weights = load_checkpoint(cut / "last.pt")["model"]
    for key, value in whole_weights.items():
        assert torch.equal(value, cut_weights[key]), key


def test_huge_learning_rate_marks_run_diverged(tmp_path):
    with pytest.raises(
        TrainingError, match=r"diverged.*NaN, infinite or exploded.*optim.lr=1000000"
    ):
        train(
            config(tmp_path, "name=nan", "optim.optimizer=sgd", "optim.lr=1e6"),
            quiet=True,
            report=False,
        )
    status = json.loads((tmp_path / "nan" / "status.json").read_text())
    assert status["status"] == "diverged"
    assert (tmp_path / "nan" / "config.yaml").is_file()
    assert "diverged" in (tmp_path / "nan" / "train.log").read_text()


def test_cli_train_compare_prints_runs_side_by_side(tmp_path, capsys):
    spec = tmp_path / "two.yaml"
    spec.write_text(
        "data: {dataset: mnist-sample, classes: [0, 1], per_class: 8, offline: true}\n"
        "train: {epochs: 2, batch_size: 8, device: cpu}\n"
        "compare:\n  - {name: fc, model.name: fc_only}\n  - {name: conv, model.name: conv1}\n"
    )
    assert (
        main(["train", str(spec), "--out", str(tmp_path / "runs"), "--quiet", "--lr", "0.01"]) == 0
    )
    out = capsys.readouterr().out
    assert "train acc" in out and "test acc" in out
    assert "fc_only" in out and "conv1" in out
    saved = (tmp_path / "runs" / "fc" / "config.yaml").read_text()
    assert "lr: 0.01" in saved


def test_cli_diverged_run_exits_nonzero(tmp_path, capsys):
    code = main(
        [
            "train",
            "--dataset",
            "mnist-sample",
            "--classes",
            "0,1",
            "--per-class",
            "8",
            "--offline",
            "--epochs",
            "2",
            "--optimizer",
            "sgd",
            "--lr",
            "1e6",
            "--out",
            str(tmp_path),
            "--name",
            "boom",
            "--quiet",
            "--model",
            "conv1",
        ]
    )
    assert code == 1
    assert "diverged" in capsys.readouterr().err


def test_resuming_a_finished_run_trains_nothing_more(tmp_path):
    first = train(config(tmp_path, "name=done", "train.epochs=1"), quiet=True, report=False)
    log_before = (first.run_dir / "train.log").read_text()
    again = resume(first.run_dir, quiet=True, report=False)
    assert again.status == "finished"
    assert again.metrics["test_accuracy"] == first.metrics["test_accuracy"]
    assert (first.run_dir / "train.log").read_text() == log_before


def test_watch_test_records_test_metrics_each_epoch_without_using_them(tmp_path):
    plain = train(config(tmp_path, "name=plain"), quiet=True, report=False)
    watched = train(
        config(tmp_path, "name=watched", "train.watch_test=true"), quiet=True, report=False
    )
    rows = read_metrics(watched.run_dir)
    assert all(row["test_accuracy"] != "" for row in rows)

    # recording test metrics changes nothing else: same training, same choice of best epoch
    def strip(table):
        return [{k: v for k, v in row.items() if not k.startswith("test_")} for row in table]

    plain_rows = read_metrics(plain.run_dir)
    assert all(row["test_accuracy"] == "" for row in plain_rows)
    assert strip(rows) == strip(plain_rows)
    assert watched.history.best_epoch == plain.history.best_epoch
    best = rows[watched.history.best_epoch - 1]
    assert float(best["test_accuracy"]) == pytest.approx(watched.metrics["test_accuracy"])


def test_a_set_up_failure_marks_the_run_failed_and_its_name_is_reused(tmp_path, capsys):
    missing = tmp_path / "nowhere.yaml"
    args = ["train", "--dataset", "mnist-sample", "--per-class", "4", "--classes", "0,1",
            "--epochs", "1", "--device", "cpu", "--out", str(tmp_path), "--name", "again",
            "--no-report"]  # fmt: skip
    assert main([*args, "--model", str(missing)]) == 1
    assert capsys.readouterr().err.startswith("cnnlab: error:")
    status = json.loads((tmp_path / "again" / "status.json").read_text())
    assert status["status"] == "failed" and "set-up failed" in status["reason"]
    assert "nowhere.yaml" in status["reason"]
    assert main([*args, "--model", "fc_only"]) == 0  # the failed run had nothing to resume
    assert "replaced" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]
    assert json.loads((tmp_path / "again" / "status.json").read_text())["status"] == "finished"
    assert main([*args, "--model", "fc_only"]) == 0  # a finished run is never replaced
    assert "is taken; this run is" in capsys.readouterr().err
    assert (tmp_path / "again-2" / "status.json").is_file()
