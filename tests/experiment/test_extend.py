"""`cnnlab train --resume RUN --epochs N`: a finished run trains further, its schedule
re-planned over the new total; a settled run with nothing to do says so in one line."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import yaml

from cnnlab.cli import main
from cnnlab.config import load_experiments
from cnnlab.errors import ConfigError
from cnnlab.experiment.engine import resume, train
from cnnlab.experiment.extend import planned_epochs
from cnnlab.runs import RunDir
from cnnlab.training import load_checkpoint, lr_factor
from cnnlab.training.loop import History

BASE = [
    "data.dataset=mnist-sample",
    "data.classes=[0,1,7]",
    "data.per_class=8",
    "data.offline=true",
    "model.name=conv1",
    "train.batch_size=8",
    "train.device=cpu",
]


def config(tmp_path, *extra):
    return load_experiments(None, [*BASE, f"out={tmp_path}", *extra])[0]


def rows(path):
    with open(path) as stream:
        return list(csv.DictReader(stream))


def timeless(run_dir):
    """metrics.csv without its timings."""
    return [
        {k: v for k, v in row.items() if k not in ("epoch_seconds", "eval_seconds")}
        for row in rows(run_dir / "metrics.csv")
    ]


def test_extending_a_finished_run_equals_training_that_long(tmp_path, capsys):
    """Constant lr: 1 epoch, then --epochs 2, gives the weights and metrics of a 2-epoch run."""
    whole = train(config(tmp_path, "name=whole", "train.epochs=2"), quiet=True, report=False)
    short = train(config(tmp_path, "name=short", "train.epochs=1"), quiet=True, report=False)
    capsys.readouterr()
    run = short.run_dir
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-report"]) == 0
    err = capsys.readouterr().err
    assert "extend: the run finished 1 of 1 epochs; training on from last.pt to 2 epochs" in err
    assert "the constant schedule is re-planned over 2 epochs" in err
    assert "epoch   2/2" in err

    assert timeless(run) == timeless(whole.run_dir)  # 2 rows, epochs 1 and 2
    assert [row["epoch"] for row in rows(run / "metrics.csv")] == ["1", "2"]
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "finished" and status["epoch"] == 2
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"] == 2
    log = (run / "train.log").read_text()
    assert "re-planned over 2 epochs" in log
    assert log.splitlines()[-1] == (whole.run_dir / "train.log").read_text().splitlines()[-1]
    assert json.loads((run / "metrics.json").read_text()) == json.loads(
        (whole.run_dir / "metrics.json").read_text()
    )  # evaluated again, at the end
    extended, reference = (load_checkpoint(r / "last.pt")["model"] for r in (run, whole.run_dir))
    for key, value in reference.items():
        assert torch.equal(value, extended[key]), key


def test_a_cosine_schedule_is_replanned_over_the_new_total(tmp_path):
    result = train(
        config(tmp_path, "name=cos", "train.epochs=1", "optim.schedule=cosine"),
        quiet=True,
        report=False,
    )
    resume(result.run_dir, quiet=True, report=False, epochs=3)
    optim = RunDir(result.run_dir).read_config().optim
    iterations = rows(result.run_dir / "iterations.csv")
    per_epoch = len(iterations) // 3
    for row in iterations:  # lr at iteration i (1-based) is the factor at step i - 1
        step, epoch = int(row["iteration"]) - 1, int(row["epoch"])
        epochs = 1 if epoch == 1 else 3  # the first epoch ran under the 1-epoch plan
        expected = optim.lr * lr_factor(step, epochs * per_epoch, per_epoch, optim)
        assert float(row["lr"]) == pytest.approx(expected, rel=1e-6, abs=1e-12), row
    # the first extended step jumps from the end of the 1-epoch cosine to the 3-epoch one's
    first_extended = float(iterations[per_epoch]["lr"])
    assert float(iterations[per_epoch - 1]["lr"]) > 0 and first_extended > 0.7 * optim.lr
    log = (result.run_dir / "train.log").read_text()
    assert f"re-planned over 3 epochs from iteration {per_epoch} (lr 0 -> " in log


def test_a_finished_run_with_nothing_to_do_says_so(tmp_path, capsys):
    run = train(config(tmp_path, "name=done", "train.epochs=1"), quiet=True, report=False).run_dir
    log = (run / "train.log").read_text()
    capsys.readouterr()
    for extra in ([], ["--epochs", "1"]):
        assert main(["train", "--resume", str(run), "--no-report", *extra]) == 0
        said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("cnnlab")]
        assert said == [
            f"cnnlab: run {run} already finished 1 of 1 epochs"
            + (" (--epochs 1 asks for no more)" if extra else "")
            + "; nothing to do (pass --epochs N with N above 1 to train further)"
        ]
    assert (run / "train.log").read_text() == log  # nothing was redone


def test_an_early_stopped_run_is_extended_with_patience_counted_afresh(tmp_path, capsys):
    # lr 1e-12: the weights hardly move, so validation accuracy never improves after epoch 1
    stalled = config(
        tmp_path, "name=stall", "train.epochs=10", "train.patience=2", "data.val=3",
        "optim.lr=1e-12", "model.name=fc_only",
    )  # fmt: skip
    run = train(stalled, quiet=True, report=False).run_dir
    assert json.loads((run / "status.json").read_text())["status"] == "early_stopped"
    assert len(rows(run / "metrics.csv")) == 3
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-report"]) == 0
    assert "already stopped early after 3 of 10 epochs; nothing to do" in capsys.readouterr().err

    resume(run, quiet=True, report=False, epochs=10)
    # patience afresh: two more epochs without improvement (not one) before stopping again
    assert [row["epoch"] for row in rows(run / "metrics.csv")] == ["1", "2", "3", "4", "5"]
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "early_stopped" and status["epoch"] == 5
    log = (run / "train.log").read_text()
    assert "extend: the run stopped early after 3 of 10 epochs" in log
    assert "patience counts afresh" in log and "schedule continues as planned" in log

    (run / "metrics.json").unlink()  # trained to its end, not evaluated (a crash in between)
    again = resume(run, quiet=True, report=False)
    assert again.status == "early_stopped" and len(rows(run / "metrics.csv")) == 5  # no training
    assert (run / "metrics.json").is_file()


def test_resume_refuses_flags_it_would_ignore(tmp_path, capsys):
    code = main(["train", "--resume", str(tmp_path), "--epochs", "3", "--lr", "0.1"])
    assert code == 1
    err = capsys.readouterr().err
    assert f"cnnlab: error: --resume {tmp_path} continues the run as its config.yaml says" in err
    assert "--lr cannot change it (only --epochs N" in err


def test_fewer_epochs_than_trained_are_refused(tmp_path):
    run = RunDir(tmp_path)
    cfg = config(tmp_path, "train.epochs=5")
    history = History(epochs=[{"epoch": 1}, {"epoch": 2}])
    assert planned_epochs(run, cfg, "interrupted", history, None) == 5
    assert planned_epochs(run, cfg, "interrupted", history, 2) == 2  # stop here, evaluate
    assert planned_epochs(run, cfg, "interrupted", history, 7) == 7
    with pytest.raises(ConfigError, match=r"--epochs 1: run .* has trained 2 epoch\(s\); expected"):
        planned_epochs(run, cfg, "interrupted", history, 1)
    history.partial_epoch = {"epoch": 2, "batch": 3}
    with pytest.raises(ConfigError, match=r"2 epoch\(s\) and part of epoch 3; expected at least 3"):
        planned_epochs(run, cfg, "interrupted", history, 2)
