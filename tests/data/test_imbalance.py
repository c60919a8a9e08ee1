"""data.imbalance: a seeded long-tailed training split on an exponential profile; test untouched."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.config import load_experiments
from cnnlab.data.arrays import Dataset, Split
from cnnlab.data.configured import load_configured
from cnnlab.data.subset import SubsetSpec, apply_subset, class_counts, long_tail_counts
from cnnlab.errors import ConfigError


def toy(counts: tuple[int, ...], test: tuple[int, ...]) -> Dataset:
    """Classes with `counts` training and `test` test images; image i's pixels hold its id."""

    def split(per_class, first):
        labels = np.repeat(np.arange(len(per_class)), per_class)
        ids = first + np.arange(len(labels))
        images = np.stack([ids // 256, ids % 256], axis=1).astype(np.uint8).reshape(-1, 1, 1, 2)
        return Split(images, labels)

    names = tuple(f"c{i}" for i in range(len(counts)))
    return Dataset("toy", names, {"train": split(counts, 0), "test": split(test, 5000)})


def ids(split: Split) -> set[int]:
    return set((split.images[:, 0, 0, 0].astype(int) * 256 + split.images[:, 0, 0, 1]).tolist())


def test_profile_counts_are_exact():
    # CIFAR-10-LT, ratio 100: 5000 2997 1796 1077 645 387 232 139 83 50 (Cao et al., 2019)
    expected = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert long_tail_counts(5000, 10, 100.0).tolist() == expected
    assert long_tail_counts(100, 3, 10.0).tolist() == [100, 31, 10]
    assert long_tail_counts(7, 1, 10.0).tolist() == [7]


def test_the_training_split_gets_the_profile_and_the_test_split_stays_whole():
    dataset = toy((100, 100, 100), (9, 8, 7))
    spec = SubsetSpec(imbalance=10.0, seed=4)
    tailed = apply_subset(dataset, spec)
    assert class_counts(tailed.split("train"), 3).tolist() == [100, 31, 10]
    assert ids(tailed.split("test")) == ids(dataset.split("test"))
    assert "data.imbalance=10" in tailed.notes[-1] and "100 31 10" in tailed.notes[-1]
    again = apply_subset(dataset, spec)
    assert np.array_equal(again.split("train").images, tailed.split("train").images)
    other = apply_subset(dataset, SubsetSpec(imbalance=10.0, seed=5))
    assert ids(other.split("train")) != ids(tailed.split("train"))  # seeded draw


def test_imbalance_follows_per_class_and_keeps_smaller_classes():
    tailed = apply_subset(toy((50, 50, 3), (1, 1, 1)), SubsetSpec(per_class=3, imbalance=3.0))
    assert class_counts(tailed.split("train"), 3).tolist() == [3, 1, 1]
    short = apply_subset(toy((40, 40, 2), (1, 1, 1)), SubsetSpec(imbalance=2.0))
    assert class_counts(short.split("train"), 3).tolist() == [40, 28, 2]  # never more than it has


def test_configured_mnist_sample_is_long_tailed(tmp_path):
    config = load_experiments(
        None,
        ["data.classes=[0,1,2]", "data.per_class=20", "data.imbalance=4", "data.offline=true"],
    )[0]
    dataset = load_configured(config.data, seed=0)
    assert class_counts(dataset.split("train"), 3).tolist() == [20, 10, 5]
    plain = load_configured(load_experiments(None, ["data.classes=[0,1,2]"])[0].data, seed=0)
    assert len(dataset.split("test")) == len(plain.split("test"))


@pytest.mark.parametrize("value", ["1", "0.5", "-3", ".inf", ".nan"])
def test_bad_imbalance_is_a_config_error(value):
    with pytest.raises(ConfigError, match="data.imbalance"):
        load_experiments(None, [f"data.imbalance={value}"])
    with pytest.raises(ConfigError, match="subset imbalance must be a finite number > 1"):
        SubsetSpec(imbalance=1.0)
