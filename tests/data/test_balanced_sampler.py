"""data.sampler=balanced: every class equally often per epoch, the same batches on resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlab.config import load_experiments
from cnnlab.data.arrays import Split
from cnnlab.data.loader import BatchLoader
from cnnlab.errors import ConfigError


def skewed_split(majority: int = 900, minority: int = 100) -> Split:
    """A 90/10 two-class split of 1x2x2 images whose pixels number them."""
    count = majority + minority
    images = (np.arange(count * 4) % 251).astype(np.uint8).reshape(count, 1, 2, 2)
    labels = np.array([0] * majority + [1] * minority, dtype=np.int64)
    return Split(images, labels)


def epoch_labels(loader: BatchLoader, epoch: int) -> torch.Tensor:
    loader.set_epoch(epoch)
    return torch.cat([labels for _, labels in loader])


def test_balanced_draws_each_class_about_equally_often():
    loader = BatchLoader(skewed_split(), batch_size=64, shuffle=True, seed=3, sampler="balanced")
    labels = epoch_labels(loader, 0)
    assert len(labels) == 1000  # the epoch stays as long as the split
    counts = torch.bincount(labels, minlength=2)
    assert abs(int(counts[1]) - 500) < 60, counts  # binomial(1000, 0.5): sd about 16
    uniform = BatchLoader(skewed_split(), batch_size=64, shuffle=True, seed=3)
    assert torch.bincount(epoch_labels(uniform, 0)).tolist() == [900, 100]


def test_balanced_epochs_differ_but_repeat_from_seed_and_epoch():
    make = lambda: BatchLoader(  # noqa: E731
        skewed_split(), batch_size=32, shuffle=True, seed=5, sampler="balanced"
    )
    first, again = make(), make()
    first.set_epoch(2)
    again.set_epoch(2)
    assert torch.equal(first.epoch_indices(), again.epoch_indices())
    other = make()
    other.set_epoch(3)
    assert not torch.equal(first.epoch_indices(), other.epoch_indices())


def test_a_resumed_loader_yields_the_same_remaining_batches():
    """Mid-epoch resume: a fresh loader at the same epoch, its first batches skipped."""
    split = skewed_split()
    original = BatchLoader(split, batch_size=48, shuffle=True, seed=7, sampler="balanced")
    original.set_epoch(1)
    batches = list(original)
    resumed = BatchLoader(split, batch_size=48, shuffle=True, seed=7, sampler="balanced")
    resumed.set_epoch(1)
    rest = iter(resumed)
    for _ in range(5):
        next(rest)
    for (images, labels), (expected_images, expected_labels) in zip(rest, batches[5:], strict=True):
        assert torch.equal(images, expected_images) and torch.equal(labels, expected_labels)


def test_an_unknown_sampler_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="data.sampler: expected one of uniform, balanced"):
        load_experiments(None, ["data.sampler=weighted", f"out={tmp_path}"])
    with pytest.raises(ConfigError, match="loader sampler must be one of uniform, balanced"):
        BatchLoader(skewed_split(), batch_size=8, shuffle=True, sampler="weighted")
