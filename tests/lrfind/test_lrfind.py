"""The learning-rate range test: suggestion arithmetic and one tiny end-to-end run."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from cnnlab.cli import lrfind_cmd
from cnnlab.config import load_experiments
from cnnlab.errors import ConfigError
from cnnlab.experiment import range_test
from cnnlab.lrfind import lr_schedule, smooth, suggest_lr
from cnnlab.lrfind.suggest import exploded

TINY = [
    "data.dataset=mnist-sample",
    "data.classes=[0,1]",
    "data.per_class=8",
    "data.offline=true",
    "model.name=fc_only",
    "train.batch_size=4",
    "train.device=cpu",
    "train.threads=1",
]


def test_schedule_is_exponential():
    rates = lr_schedule(1e-6, 1.0, 7)
    np.testing.assert_allclose(rates, 10.0 ** np.arange(-6, 1))


def test_smooth_is_bias_corrected():
    np.testing.assert_allclose(smooth(np.full(5, 3.0)), np.full(5, 3.0))
    np.testing.assert_allclose(smooth([1.0, 2.0], beta=0.5), [1.0, (0.25 + 1.0) / 0.75])


def test_suggestions_on_a_u_shaped_curve():
    lrs = np.geomspace(1e-6, 1.0, 61)  # 10 points per decade
    x = np.log10(lrs)
    # falls fastest at 1e-4 (the tanh step), bottoms out at 1e-2, then rises
    loss = 2.0 - np.tanh(2.0 * (x + 4.0)) + 0.5 * np.maximum(0.0, x + 2.0) ** 2
    suggestion = suggest_lr(lrs, loss)
    assert suggestion.minimum == pytest.approx(1e-2)
    assert suggestion.min_over_10 == pytest.approx(1e-3)
    assert suggestion.steepest == pytest.approx(1e-4)


def test_suggestion_falls_back_when_the_loss_only_rises():
    lrs = np.geomspace(1e-3, 1.0, 10)
    suggestion = suggest_lr(lrs, np.linspace(1.0, 2.0, 10))
    assert suggestion.steepest == suggestion.min_over_10 == pytest.approx(1e-4)


def test_exploded():
    assert not exploded(np.array([2.0, 1.0, 3.9]))
    assert exploded(np.array([2.0, 1.0, 4.1]))
    assert exploded(np.array([1.0, np.nan]))


def test_bad_range_is_rejected():
    (config,) = load_experiments(None, TINY)
    with pytest.raises(ConfigError, match="start=1.0, end=0.1"):
        range_test(config, start=1.0, end=0.1, steps=10)


def test_cli_end_to_end(tmp_path, capsys):
    # label smoothing keeps the loss off zero, so a huge rate makes it explode
    overrides = [
        *TINY,
        f"out={tmp_path}",
        "name=tiny",
        "optim.optimizer=sgd",
        "optim.label_smoothing=0.1",
    ]
    args = argparse.Namespace(config=None, overrides=overrides, start=1e-4, end=1e4, steps=60)
    assert lrfind_cmd.run_lr_find(args) == 0
    out_dir = tmp_path / "tiny-lr-find"
    assert (out_dir / "lr_find.png").stat().st_size > 1000
    rows = (out_dir / "lr_find.csv").read_text().splitlines()
    assert rows[0] == "iteration,lr,loss,smoothed_loss"
    assert 2 < len(rows) - 1 < 60  # stopped early: an lr of 1e4 explodes the loss
    printed = capsys.readouterr().out
    assert "steepest descent" in printed and "minimum / 10" in printed


def test_train_with_lr_find_puts_the_plot_in_the_report(tmp_path, capsys):
    from cnnlab import experiment

    overrides = [*TINY, f"out={tmp_path}", "name=probe", "train.epochs=1", "train.lr_find=true"]
    (config,) = load_experiments(None, overrides)
    result = experiment.train(config)
    figure = result.run_dir / "figures" / "lr_find.png"
    assert figure.stat().st_size > 1000
    assert (result.run_dir / "figures" / "lr_find.csv").is_file()
    html = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "Learning-rate range test" in html
    assert "suggested lr" in capsys.readouterr().out


def test_the_range_test_leaves_the_global_random_state_alone():
    (config,) = load_experiments(None, TINY)
    torch.manual_seed(7)
    np.random.seed(7)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    range_test(config, steps=5)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)
