"""The `plateau` schedule: cuts after `plateau_patience` epochs without improvement, in the
monitor's direction, down to `min_lr`; its counters survive a checkpoint and a resume."""

from __future__ import annotations

import csv
import io

import pytest
import torch
from torch import nn

from cnnlab.config import OptimConfig, load_experiments
from cnnlab.errors import ConfigError
from cnnlab.experiment.engine import resume, train
from cnnlab.training import load_checkpoint
from cnnlab.training.optim import build_schedule, set_schedule_step
from cnnlab.training.plateau import PlateauLR


def plateau(lr=0.1, **keys):
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    config = OptimConfig(lr=lr, schedule="plateau", **keys)
    return optimizer, build_schedule(optimizer, config, steps_per_epoch=4, epochs=10)


def advance(optimizer, schedule):
    optimizer.step()  # no gradients: only keeps torch's order check content
    schedule.step()


def lr(optimizer):
    return optimizer.param_groups[0]["lr"]


def test_a_loss_that_stalls_for_patience_epochs_cuts_the_lr():
    optimizer, schedule = plateau(plateau_patience=2, plateau_factor=0.5)
    assert isinstance(schedule, PlateauLR)
    seen = []
    for value in [1.0, 0.9, 0.95, 0.9, 0.8, 0.85, 0.85, 0.85]:
        for _ in range(4):
            advance(optimizer, schedule)
        schedule.observe(value, lower_is_better=True)
        seen.append(lr(optimizer))
    # 0.9 then 0.95, 0.9 (ties do not improve): cut; 0.8 improves; 0.85, 0.85: cut; one bad epoch
    assert seen == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])
    advance(optimizer, schedule)  # the per-iteration steps keep the cut
    assert lr(optimizer) == pytest.approx(0.025)


def test_an_accuracy_is_maximised_and_the_floor_holds():
    optimizer, schedule = plateau(plateau_patience=1, plateau_factor=0.1, min_lr=0.005)
    for value in [0.5, 0.6, 0.55]:  # rising accuracy is no plateau; the fall is
        schedule.observe(value, lower_is_better=False)
    assert lr(optimizer) == pytest.approx(0.01)
    schedule.observe(0.4, lower_is_better=False)
    assert lr(optimizer) == pytest.approx(0.005)  # 0.001 would be under min_lr
    advance(optimizer, schedule)
    assert lr(optimizer) == pytest.approx(0.005)


def test_the_state_resumes_exactly_through_a_safe_checkpoint():
    optimizer, schedule = plateau(plateau_patience=2)
    for value in [1.0, 1.1, 1.2, 0.9, 1.0]:
        advance(optimizer, schedule)
        schedule.observe(value, lower_is_better=True)
    buffer = io.BytesIO()
    torch.save(schedule.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    resumed_optimizer, resumed = plateau(plateau_patience=2)
    resumed.load_state_dict(state)
    set_schedule_step(resumed, resumed.last_epoch)  # as a resume re-planning the schedule does
    assert lr(resumed_optimizer) == lr(optimizer) == pytest.approx(0.01)
    assert (resumed.best, resumed.bad_epochs, resumed.scale) == (0.9, 1, pytest.approx(0.1))
    for value in [1.0, 0.95]:  # both go on alike: a second cut after one more bad epoch
        for opt, run in ((optimizer, schedule), (resumed_optimizer, resumed)):
            advance(opt, run)
            run.observe(value, lower_is_better=True)
    assert lr(resumed_optimizer) == lr(optimizer) == pytest.approx(0.001)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("plateau_factor", 1.0, "a number in \\(0, 1\\)"),
        ("plateau_patience", 0, "an integer >= 1"),
        ("min_lr", -1.0, "a number >= 0"),
    ],
)
def test_bad_plateau_keys_are_refused_naming_them(key, value, expected):
    with pytest.raises(ConfigError, match=rf"optim\.{key}.*{expected}"):
        OptimConfig(schedule="plateau", **{key: value})


BASE = [
    "data.dataset=mnist-sample",
    "data.classes=[0,1,7]",
    "data.per_class=8",
    "data.offline=true",
    "data.val=6",
    "model.name=conv1",
    "train.batch_size=8",
    "train.device=cpu",
    "train.monitor=val_accuracy",
    "optim.schedule=plateau",
    "optim.plateau_patience=1",
    "optim.plateau_factor=0.5",
    "optim.lr=0.01",
]


def rows(run_dir):
    with open(run_dir / "metrics.csv") as stream:
        return [
            {k: v for k, v in row.items() if k not in ("epoch_seconds", "eval_seconds")}
            for row in csv.DictReader(stream)
        ]


def test_training_with_plateau_cuts_as_the_rule_says_and_resumes_exactly(tmp_path):
    """3 epochs in one go equal 2 epochs then a resume to 3; each epoch's lr follows the rule."""

    def config(*extra):
        return load_experiments(None, [*BASE, f"out={tmp_path}", *extra])[0]

    whole = train(config("name=whole", "train.epochs=3"), quiet=True, report=False)
    table = rows(whole.run_dir)
    assert len(table) == 3 and float(table[-1]["lr"]) < 0.01  # it cut at least once
    expected, best = 0.01, None  # patience 1: every epoch without improvement cuts
    for row in table:
        assert float(row["lr"]) == pytest.approx(expected)
        accuracy = float(row["val_accuracy"])
        if best is None or accuracy > best:
            best = accuracy
        else:
            expected *= 0.5
    state = load_checkpoint(whole.run_dir / "last.pt")["scheduler"]
    assert state["best"] == best and state["scale"] == pytest.approx(expected / 0.01)

    short = train(config("name=short", "train.epochs=2"), quiet=True, report=False)
    resume(short.run_dir, epochs=3, quiet=True, report=False)
    assert rows(short.run_dir) == table
    extended, reference = (load_checkpoint(r / "last.pt") for r in (short.run_dir, whole.run_dir))
    assert extended["scheduler"]["scale"] == reference["scheduler"]["scale"]
    for key, value in reference["model"].items():
        assert torch.equal(value, extended["model"][key]), key
