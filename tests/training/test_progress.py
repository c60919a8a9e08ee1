"""Progress when output is not a terminal: plain lines inside an epoch, and a timed line for
every phase after training."""

from __future__ import annotations

import re

import pytest
import torch

from cnnlab.cli import main
from cnnlab.training import progress
from cnnlab.training.metrics import RunningConfusion
from cnnlab.training.progress import EpochLines

PHASES = (  # every phase after the last epoch, in order
    r"measured best\.pt on 24 training images: train accuracy 0\.\d{4}",
    r"evaluated best\.pt: test accuracy 0\.\d{4} on \d+ images",
    r"wrote metrics\.json and predictions\.csv, \d+ rows",
    r"drew \d+ figure files in .*figures; profiled \d+ images",
    r"wrote the report .*report\.html",
)
TIMED = r" \(\d+\.\ds\)$"


def train_args(tmp_path, *extra):
    return [
        "train", "--dataset", "mnist-sample", "--classes", "0,1,7", "--per-class", "8",
        "--epochs", "1", "--batch-size", "4", "--device", "cpu", "--model", "fc_only",
        "--out", str(tmp_path), "--offline", *extra,
    ]  # fmt: skip


def test_piped_training_prints_progress_lines_and_every_phase_with_its_time(
    tmp_path, capsys, monkeypatch
):
    """stderr captured is no terminal: lines every 25% of the 6 batches (no time gate here)."""
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    assert main(train_args(tmp_path, "--name", "piped")) == 0
    lines = capsys.readouterr().err.splitlines()
    batch_lines = [line for line in lines if " batch " in line]
    assert [line.split("  ")[1] for line in batch_lines] == ["batch 2/6", "batch 4/6"]
    for line in batch_lines:
        assert re.fullmatch(
            r"epoch 1/1  batch \d/6  loss \d+\.\d{4}  acc [01]\.\d{4}  \d+ img/s  \d+\.\ds, "
            r"about \d+(\.\d)?s left in the epoch",
            line,
        ), line
    after = lines[lines.index(next(line for line in lines if line.startswith("epoch   1/1"))) + 1 :]
    assert len(after) >= len(PHASES)
    for pattern, line in zip(PHASES, after, strict=False):
        assert re.match(pattern + TIMED, line), (pattern, line)


def test_quiet_prints_no_progress_and_no_phases(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    assert main(train_args(tmp_path, "--name", "quiet", "--quiet", "--no-report")) == 0
    err = capsys.readouterr().err
    assert " batch " not in err and "evaluated best.pt" not in err and "epoch" not in err


def running_after(batches: int) -> RunningConfusion:
    running = RunningConfusion(2, torch.device("cpu"))
    for _ in range(batches):
        running.update(torch.tensor([[2.0, 0.0]]), torch.tensor([0]), torch.tensor(0.5))
    return running


@pytest.mark.parametrize(
    ("seconds", "fraction", "expected"),
    [
        (0.0, 0.25, [2, 4, 6]),  # every quarter of 8 batches, none at the last
        (0.0, 0.5, [4]),
        (3600.0, 0.25, []),  # the time gate: not before LINE_SECONDS have passed
    ],
)
def test_epoch_lines_are_rare(monkeypatch, capsys, seconds, fraction, expected):
    monkeypatch.setattr(progress, "LINE_SECONDS", seconds)
    monkeypatch.setattr(progress, "LINE_FRACTION", fraction)
    lines = EpochLines(8, "epoch 2/3")
    lines.begin(0, running_after(0))
    for done in range(1, 9):
        lines.advance(done, running_after(done))
    printed = capsys.readouterr().err.splitlines()
    assert [int(re.search(r"batch (\d)/8", line).group(1)) for line in printed] == expected
    assert all(
        line.startswith("epoch 2/3  batch ") and "loss 0.5000  acc 1.0000" in line
        for line in printed
    )


def test_a_resumed_epoch_counts_from_where_it_stopped(monkeypatch, capsys):
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    lines = EpochLines(8, "epoch 1/1")
    lines.begin(5, running_after(5))  # 5 batches were trained before the stop
    for done in range(6, 9):
        lines.advance(done, running_after(done))
    assert [line.split("  ")[1] for line in capsys.readouterr().err.splitlines()] == ["batch 7/8"]
