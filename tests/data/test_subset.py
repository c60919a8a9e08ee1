"""Subsets and splits: class choice and relabelling, stratified validation, per-class counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.data.arrays import Dataset, Split
from cnnlab.data.subset import SubsetSpec, _apportion, apply_subset, class_counts
from cnnlab.errors import ConfigError, DataError

CLASS_NAMES = ("cat", "dog", "frog", "ship")
TRAIN_COUNTS = (30, 12, 7, 21)  # imbalanced on purpose
TEST_COUNTS = (5, 4, 3, 6)


def _split(counts: tuple[int, ...], first_id: int, seed: int) -> Split:
    """A shuffled split whose image i carries a unique id in two pixels: (id // 256, id % 256)."""
    labels = np.repeat(np.arange(len(counts)), counts)
    labels = labels[np.random.default_rng(seed).permutation(len(labels))]
    ids = first_id + np.arange(len(labels))
    images = np.zeros((len(labels), 1, 1, 2), dtype=np.uint8)
    images[:, 0, 0, 0] = ids // 256
    images[:, 0, 0, 1] = ids % 256
    return Split(images, labels)


def _ids(split: Split) -> np.ndarray:
    return split.images[:, 0, 0, 0].astype(np.int64) * 256 + split.images[:, 0, 0, 1]


@pytest.fixture
def dataset() -> Dataset:
    splits = {"train": _split(TRAIN_COUNTS, 0, 1), "test": _split(TEST_COUNTS, 1000, 2)}
    return Dataset("toy", CLASS_NAMES, splits, problems=("bad.png: truncated",))


def _original_labels(dataset: Dataset, split: str, ids: np.ndarray) -> np.ndarray:
    source = dataset.split(split)
    lookup = dict(zip(_ids(source).tolist(), source.labels.tolist(), strict=True))
    return np.array([lookup[i] for i in ids.tolist()])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"per_class": 0}, "per_class must be an integer >= 1"),
        ({"per_class": 2.5}, "per_class must be an integer >= 1"),
        ({"fraction": 0.0}, r"0 < fraction <= 1"),
        ({"fraction": 1.5}, r"0 < fraction <= 1"),
        ({"per_class": 4, "fraction": 0.5}, "per_class .* and fraction .* cannot both"),
        ({"val": 0}, r"val must be a fraction in \(0, 1\) or an image count >= 1"),
        ({"val": 1.0}, r"val must be a fraction in \(0, 1\)"),
        ({"val": True}, r"val must be a fraction"),
        ({"classes": (1, 2, 1)}, "must not repeat a class; repeated: 1"),
        ({"classes": ()}, "at least one class"),
        ({"classes": "cat"}, "list of class indices or names"),
        ({"classes": (1.5,)}, r"indices \(int\) or names \(str\)"),
        ({"seed": -1}, "seed must be an integer >= 0"),
    ],
)
def test_spec_rejects_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SubsetSpec(**kwargs)


def test_spec_normalises_lists_and_numpy_ints() -> None:
    spec = SubsetSpec(classes=[np.int64(2), "cat"], per_class=np.int64(3), val=np.float64(0.2))
    assert spec.classes == (2, "cat") and type(spec.classes[0]) is int
    assert spec.per_class == 3 and spec.val == 0.2 and isinstance(spec.val, float)
    assert SubsetSpec().is_identity and not spec.is_identity


def test_identity_spec_returns_the_dataset(dataset: Dataset) -> None:
    assert apply_subset(dataset, SubsetSpec(seed=5)) is dataset


def test_classes_by_index_and_name_relabel_in_the_given_order(dataset: Dataset) -> None:
    out = apply_subset(dataset, SubsetSpec(classes=(3, "cat", 2)))
    assert out.class_names == ("ship", "cat", "frog")
    assert out.name == "toy" and out.problems == ("bad.png: truncated",)
    for name, counts in (("train", TRAIN_COUNTS), ("test", TEST_COUNTS)):
        split = out.split(name)
        original = _original_labels(dataset, name, _ids(split))
        np.testing.assert_array_equal(np.array([3, 0, 2])[split.labels], original)
        np.testing.assert_array_equal(class_counts(split, 3), [counts[3], counts[0], counts[2]])
        # Every image of the chosen classes is kept, in its original order.
        source = dataset.split(name)
        np.testing.assert_array_equal(_ids(split), _ids(source)[np.isin(source.labels, [0, 2, 3])])


def test_unknown_class_name_lists_the_dataset_classes(dataset: Dataset) -> None:
    names = r"\['cat', 'dog', 'frog', 'ship'\]"
    with pytest.raises(DataError, match=rf"no class named 'horse'.*{names}"):
        apply_subset(dataset, SubsetSpec(classes=("cat", "horse")))


def test_class_index_out_of_range(dataset: Dataset) -> None:
    with pytest.raises(DataError, match=r"class index 4 is out of range .* 4 classes \(0\.\.3"):
        apply_subset(dataset, SubsetSpec(classes=(4,)))


def test_same_class_by_index_and_name_is_rejected(dataset: Dataset) -> None:
    with pytest.raises(DataError, match=r"more than once .*\['dog'\]"):
        apply_subset(dataset, SubsetSpec(classes=(1, "dog")))


def test_per_class_keeps_exactly_n_sorted_and_leaves_test_alone(dataset: Dataset) -> None:
    out = apply_subset(dataset, SubsetSpec(per_class=5, seed=3))
    train = out.split("train")
    np.testing.assert_array_equal(class_counts(train, 4), [5, 5, 5, 5])
    ids = _ids(train)
    assert np.all(np.diff(ids) > 0)  # original order, not hash or draw order
    np.testing.assert_array_equal(train.labels, _original_labels(dataset, "train", ids))
    assert out.split("test") is dataset.split("test")


def test_per_class_is_deterministic_per_seed_and_nested(dataset: Dataset) -> None:
    a = _ids(apply_subset(dataset, SubsetSpec(per_class=5, seed=3)).split("train"))
    b = _ids(apply_subset(dataset, SubsetSpec(per_class=5, seed=3)).split("train"))
    c = _ids(apply_subset(dataset, SubsetSpec(per_class=5, seed=4)).split("train"))
    bigger = _ids(apply_subset(dataset, SubsetSpec(per_class=7, seed=3)).split("train"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(a) < set(bigger)


def test_choice_within_a_class_does_not_depend_on_other_classes(dataset: Dataset) -> None:
    alone = apply_subset(dataset, SubsetSpec(classes=("frog",), per_class=3, seed=9))
    with_others = apply_subset(dataset, SubsetSpec(classes=("cat", "frog"), per_class=3, seed=9))
    frogs = with_others.split("train")
    np.testing.assert_array_equal(_ids(alone.split("train")), _ids(frogs)[frogs.labels == 1])


def test_per_class_larger_than_a_class_names_it(dataset: Dataset) -> None:
    with pytest.raises(DataError, match=r"per_class=10 .*'frog' has 7"):
        apply_subset(dataset, SubsetSpec(per_class=10))


def test_fraction_rounds_each_class_and_keeps_at_least_one(dataset: Dataset) -> None:
    out = apply_subset(dataset, SubsetSpec(fraction=0.1, seed=1))
    # round(0.1 * (30, 12, 7, 21)) = (3, 1, 1, 2); frog's 0.7 rounds to 1.
    np.testing.assert_array_equal(class_counts(out.split("train"), 4), [3, 1, 1, 2])
    full = apply_subset(dataset, SubsetSpec(fraction=1.0))
    np.testing.assert_array_equal(_ids(full.split("train")), _ids(dataset.split("train")))


def test_val_fraction_is_stratified_disjoint_and_drawn_before_per_class(dataset: Dataset) -> None:
    only_val = apply_subset(dataset, SubsetSpec(val=0.1, seed=7))
    both = apply_subset(dataset, SubsetSpec(val=0.1, per_class=4, seed=7))
    assert list(both.splits) == ["train", "val", "test"]
    val, train = both.split("val"), both.split("train")
    # 0.1 * 70 = 7 over (30, 12, 7, 21): quotas (3, 1.2, 0.7, 2.1) -> (3, 1, 1, 2), frog >= 1.
    np.testing.assert_array_equal(class_counts(val, 4), [3, 1, 1, 2])
    np.testing.assert_array_equal(class_counts(train, 4), [4, 4, 4, 4])
    assert not set(_ids(val)) & set(_ids(train))
    np.testing.assert_array_equal(_ids(val), _ids(only_val.split("val")))  # same val either way
    np.testing.assert_array_equal(val.labels, _original_labels(dataset, "train", _ids(val)))
    assert np.all(np.diff(_ids(val)) > 0)
    rest = class_counts(only_val.split("train"), 4)
    np.testing.assert_array_equal(rest, np.array(TRAIN_COUNTS) - [3, 1, 1, 2])


def test_val_count_is_split_by_largest_remainder(dataset: Dataset) -> None:
    out = apply_subset(dataset, SubsetSpec(val=16, seed=0))
    # Quotas 16 * (30, 12, 7, 21) / 70 = (6.86, 2.74, 1.6, 4.8): floors (6, 2, 1, 4) and the
    # three images left go to the largest remainders: cat, ship, dog.
    np.testing.assert_array_equal(class_counts(out.split("val"), 4), [7, 3, 1, 5])


def test_val_count_gives_every_class_one_when_possible(dataset: Dataset) -> None:
    out = apply_subset(dataset, SubsetSpec(val=4, seed=0))
    np.testing.assert_array_equal(class_counts(out.split("val"), 4), [1, 1, 1, 1])
    fewer = apply_subset(dataset, SubsetSpec(val=2, seed=0))
    np.testing.assert_array_equal(class_counts(fewer.split("val"), 4), [1, 0, 0, 1])


def test_val_on_a_dataset_that_has_one_is_a_config_error(dataset: Dataset) -> None:
    with_val = apply_subset(dataset, SubsetSpec(val=0.2))
    with pytest.raises(ConfigError, match="already has one"):
        apply_subset(with_val, SubsetSpec(val=0.2))
    # Without `val` the existing split is filtered to the chosen classes but not subsampled.
    out = apply_subset(with_val, SubsetSpec(classes=("dog",), per_class=2))
    dogs = with_val.split("val").labels == 1
    np.testing.assert_array_equal(_ids(out.split("val")), _ids(with_val.split("val"))[dogs])
    np.testing.assert_array_equal(out.split("val").labels, np.zeros(dogs.sum(), dtype=np.int64))


def test_val_too_large_is_a_data_error(dataset: Dataset) -> None:
    with pytest.raises(DataError, match=r"asks for 70 validation images, .* at most 66"):
        apply_subset(dataset, SubsetSpec(val=70))


def test_sampling_without_a_train_split(dataset: Dataset) -> None:
    test_only = Dataset("toy", CLASS_NAMES, {"test": dataset.split("test")})
    with pytest.raises(DataError, match=r"need a 'train' split.*\['test'\]"):
        apply_subset(test_only, SubsetSpec(per_class=1))


def test_class_counts_checks_the_label_range(dataset: Dataset) -> None:
    np.testing.assert_array_equal(class_counts(dataset.split("train"), 4), TRAIN_COUNTS)
    np.testing.assert_array_equal(class_counts(dataset.split("train"), 6), TRAIN_COUNTS + (0, 0))
    with pytest.raises(DataError, match="does not fit 3 classes"):
        class_counts(dataset.split("train"), 3)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 50), min_size=1, max_size=12),
    share=st.floats(0.0, 1.0),
)
def test_apportion_sums_to_total_within_bounds(counts: list[int], share: float) -> None:
    counts_arr = np.array(counts, dtype=np.int64)
    cap = np.maximum(counts_arr - 1, 0)
    total = int(round(share * cap.sum()))
    if counts_arr.sum() == 0:
        return
    eligible = (cap > 0).astype(np.int64)
    floor = eligible if total >= eligible.sum() else np.zeros_like(eligible)
    take = _apportion(total, counts_arr, floor, cap)
    assert take.sum() == total
    assert np.all(take >= floor) and np.all(take <= cap)
