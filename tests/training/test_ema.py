"""`train.ema`: a moving average of the weights is what validation, best.pt, the test
evaluation and `load_run` use; the trained weights stay beside it, and a resume is exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.config import OptimConfig, TrainConfig, load_experiments
from cnnlab.data.arrays import Split
from cnnlab.data.loader import BatchLoader
from cnnlab.errors import ConfigError
from cnnlab.experiment.engine import resume, train
from cnnlab.runs.load import load_run
from cnnlab.training import build_optimizer, build_schedule, fit
from cnnlab.training.ema import WeightAverage
from cnnlab.training.loop import History, evaluate_batches


def tiny_split(seed: int):
    rng = np.random.default_rng(seed)
    return Split(rng.integers(0, 256, (32, 1, 8, 8), dtype=np.uint8), rng.integers(0, 4, 32))


def floats(module):
    """Parameters and floating-point buffers: what the average moves."""
    return [*module.parameters(), *(b for b in module.buffers() if b.is_floating_point())]


def test_the_average_follows_the_warmed_up_formula_for_weights_and_statistics():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = WeightAverage(model, decay=0.75)
    expected = [t.detach().clone() for t in floats(model)]
    for step in range(6):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(float(step + 1))
        model.train()(torch.randn(4, 3))  # moves the batch-norm statistics
        decay = min(0.75, (1 + step) / (10 + step))  # warm-up: 0.1, 0.18, ... then 0.75
        assert ema.current_decay() == pytest.approx(decay)
        ema.update(model)
        expected = [
            decay * e + (1 - decay) * t.detach()
            for e, t in zip(expected, floats(model), strict=True)
        ]
    assert ema.updates == 6
    for averaged, wanted in zip(floats(ema.module), expected, strict=True):
        assert torch.allclose(averaged, wanted)
    batches = [b for b in model.buffers() if not b.is_floating_point()]
    assert [int(b) for b in batches] == [6]  # the batch count is copied, not averaged
    assert [int(b) for b in ema.module.buffers() if not b.is_floating_point()] == [6]
    running_mean = ema.module[1].running_mean
    assert not torch.equal(running_mean, model[1].running_mean)
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_validation_measures_the_averaged_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 4))
    device = torch.device("cpu")
    optim_config, train_config = (
        OptimConfig(optimizer="sgd", lr=0.1),
        TrainConfig(epochs=2, batch_size=8, precision="fp32"),
    )
    loader = BatchLoader(tiny_split(seed=0), batch_size=8, shuffle=True)
    val = BatchLoader(tiny_split(seed=1), batch_size=32, shuffle=False)
    optimizer = build_optimizer(model.parameters(), optim_config, device)
    schedule = build_schedule(optimizer, optim_config, len(loader), train_config.epochs)
    ema = WeightAverage(model, decay=0.9)
    history = fit(
        model,
        optimizer,
        schedule,
        loader,
        val,
        num_classes=4,
        train_config=train_config,
        optim_config=optim_config,
        device=device,
        history=History(),
        ema=ema,
    )
    criterion = nn.CrossEntropyLoss()
    averaged = evaluate_batches(ema.module, val, 4, device, None, criterion)["loss"]
    trained = evaluate_batches(model, val, 4, device, None, criterion)["loss"]
    gaps = [
        (a - t).abs().max()
        for a, t in zip(ema.module.parameters(), model.parameters(), strict=True)
    ]
    assert max(gaps) > 1e-3  # the averaged weights are not the trained ones
    assert averaged != pytest.approx(trained, rel=1e-6)
    assert history.epochs[-1]["val_loss"] == pytest.approx(averaged, rel=1e-6)


def test_a_bad_decay_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"train\.ema.*a decay in \(0, 1\)"):
        TrainConfig(ema=1.0)


BASE = [
    "data.dataset=mnist-sample",
    "data.classes=[0,1,7]",
    "data.per_class=8",
    "data.offline=true",
    "data.val=6",
    "model.name=conv1",
    "train.batch_size=8",
    "train.device=cpu",
    "train.ema=0.9",
]


def test_a_run_evaluates_the_average_keeps_the_trained_weights_and_resumes_exactly(tmp_path):
    def config(*extra):
        return load_experiments(None, [*BASE, f"out={tmp_path}", *extra])[0]

    whole = train(config("name=whole", "train.epochs=2"), quiet=True, report=False)
    run = whole.run_dir
    last = torch.load(run / "last.pt", weights_only=True)
    best = torch.load(run / "best.pt", weights_only=True)
    assert any(not torch.equal(last["model"][k], last["raw_model"][k]) for k in last["model"])
    loaded = load_run(run)
    for key, value in loaded.model.state_dict().items():
        assert torch.equal(value, best["model"][key]), key  # the average, not the raw weights
    assert "ema: on, decay 0.9" in (run / "train.log").read_text()

    short = train(config("name=short", "train.epochs=1"), quiet=True, report=False)
    resume(short.run_dir, epochs=2, quiet=True, report=False)
    resumed = torch.load(short.run_dir / "last.pt", weights_only=True)
    assert resumed["ema_updates"] == last["ema_updates"] > 0
    for part in ("model", "raw_model"):
        for key, value in last[part].items():
            assert torch.equal(value, resumed[part][key]), (part, key)
    assert (short.run_dir / "metrics.json").read_text() == (run / "metrics.json").read_text()
