"""The training loss on soft (mixed) targets, with class weights and label smoothing, and the
running training accuracy counted against each image's dominant label."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.config import load_experiments
from cnnlab.experiment.engine import train
from cnnlab.training import loop
from cnnlab.training.loop import StepContext, train_step
from cnnlab.training.metrics import RunningConfusion


class FixedLogits(nn.Module):
    """A 'network' whose logits are its one parameter, whatever the images."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = nn.Parameter(logits.clone())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits * 1


def test_the_step_loss_on_soft_targets_is_the_hand_computed_weighted_smoothed_value():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
    targets = torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.4, 0.6]])
    weight, smoothing = torch.tensor([1.0, 2.0, 0.5]), 0.1
    model = FixedLogits(logits)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    context = StepContext(
        model=model,
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0),
        criterion=nn.CrossEntropyLoss(weight=weight, label_smoothing=smoothing),  # as fit builds
        device=torch.device("cpu"),
        amp_dtype=None,
        grad_clip=None,
    )
    _, loss = train_step(context, torch.zeros(2, 1, 1, 1), targets)
    # by hand: t' = (1 - ε) t + ε / K; loss_i = -Σ_c w_c t'_ic log softmax(z_i)_c; mean over B
    z = logits.double().numpy()
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    smoothed = (1 - smoothing) * targets.double().numpy() + smoothing / 3
    expected = -(weight.double().numpy() * smoothed * log_p).sum(axis=1).mean()
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    plain = -(targets.double().numpy() * log_p).sum(axis=1).mean()
    assert abs(expected - plain) > 0.05  # the weights and smoothing matter in this example
    assert not torch.equal(model.logits.detach(), logits)  # and the step moved the weights


def test_running_accuracy_counts_a_mixed_image_as_its_dominant_label():
    running = RunningConfusion(3, torch.device("cpu"))
    logits = torch.tensor([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0]])  # predicts 0, 1, 2
    targets = torch.tensor([[0.6, 0.4, 0], [0.6, 0.4, 0], [0, 0.3, 0.7]])  # dominant 0, 0, 2
    running.update(logits, targets, torch.tensor(0.0))
    assert running.compute()["accuracy"] == pytest.approx(2 / 3)
    assert running.counts.view(3, 3)[0].tolist() == [1, 1, 0]  # the second counted as a 0


BASE = [
    "data.dataset=mnist-sample",
    "data.classes=[0,1,7]",
    "data.per_class=8",
    "data.offline=true",
    "model.name=conv1",
    "train.epochs=1",
    "train.batch_size=8",
    "train.device=cpu",
]


def test_a_mixed_run_trains_on_soft_targets_with_weights_and_smoothing(tmp_path, monkeypatch):
    seen = []
    original = loop.train_step

    def spy(context, images, targets):
        logits, loss = original(context, images, targets)
        seen.append((context.criterion, targets, logits.detach()))
        return logits, loss

    monkeypatch.setattr(loop, "train_step", spy)
    extra = ["data.cutmix=1.0", "data.mixup=0.4", "data.class_weights=[1,2,0.5]"]
    config = load_experiments(
        None, [*BASE, *extra, "optim.label_smoothing=0.1", f"out={tmp_path}"]
    )[0]
    result = train(config, quiet=True, report=False)
    assert len(seen) == 3  # 24 images in batches of 8
    for criterion, targets, _ in seen:
        assert targets.shape == (8, 3) and targets.dtype == torch.float32
        torch.testing.assert_close(targets.sum(dim=1), torch.ones(8))
        assert torch.equal(criterion.weight, torch.tensor([1.0, 2.0, 0.5]))
        assert criterion.label_smoothing == 0.1
    assert any(bool(((t > 0) & (t < 1)).any()) for _, t, _ in seen)  # some images are mixed
    right = sum(int((lg.argmax(1) == t.argmax(1)).sum()) for _, t, lg in seen)
    with open(result.run_dir / "metrics.csv", newline="") as stream:
        row = next(csv.DictReader(stream))
    assert float(row["train_accuracy"]) == pytest.approx(right / 24)
    log = (result.run_dir / "train.log").read_text()
    assert "mixing: MixUp (α = 0.4) or CutMix (α = 1), one per batch (p = 1/2)" in log
