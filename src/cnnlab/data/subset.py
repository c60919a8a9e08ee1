"""Deterministic subsets of a dataset: chosen classes, a stratified validation split, fewer images.

Order of operations in `apply_subset`:

1. keep only the chosen classes in every split and relabel them 0..k-1 in the order given;
2. if `val` is set, draw a stratified validation split from the training split;
3. then reduce what is left of the training split by `per_class` or `fraction`;
4. then, with `imbalance` R, make it long-tailed: class i (of k) keeps at most
   int(n_max * (1/R)^(i/(k-1))) images, n_max the largest class count, as in the
   long-tailed CIFAR literature (Cao et al., 2019). The test split is never touched.

Validation is drawn *before* the training split is reduced, so `per_class=16` means sixteen
training images per class, whatever the size of the validation split. Within a class, images
are ranked once by a random key drawn from `np.random.default_rng(seed)` over the original
training split; validation takes the first ranks and training the next ones. So for one seed
the validation split does not depend on `per_class`, smaller subsets are nested in larger
ones, and an image's fate does not depend on which other classes were chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from cnnlab.data.arrays import SPLIT_NAMES, Dataset, Split
from cnnlab.data.mapped import take_rows
from cnnlab.errors import ConfigError, DataError


@dataclass(frozen=True)
class SubsetSpec:
    """Which part of a dataset to use; every field `None` means all of it."""

    classes: tuple[int | str, ...] | None = None  # by index or name; order = new label order
    per_class: int | None = None  # training images per class (after validation is drawn)
    fraction: float | None = None  # of each class's training images, in (0, 1]
    val: float | int | None = None  # validation split: fraction in (0, 1) or total image count
    imbalance: float | None = None  # long-tailed training split: largest / smallest class, > 1
    seed: int = 0  # for np.random.default_rng

    def __post_init__(self) -> None:
        if self.classes is not None:
            object.__setattr__(self, "classes", _check_classes(self.classes))
        if self.per_class is not None:
            if not _is_int(self.per_class) or self.per_class < 1:
                raise ConfigError(
                    f"subset per_class must be an integer >= 1 (training images per class), "
                    f"got {self.per_class!r}"
                )
            object.__setattr__(self, "per_class", int(self.per_class))
        if self.fraction is not None:
            if not _is_real(self.fraction) or not 0 < self.fraction <= 1:
                raise ConfigError(
                    f"subset fraction must be a number with 0 < fraction <= 1, "
                    f"got {self.fraction!r}"
                )
            object.__setattr__(self, "fraction", float(self.fraction))
        if self.per_class is not None and self.fraction is not None:
            raise ConfigError(
                f"subset per_class ({self.per_class}) and fraction ({self.fraction}) cannot both "
                f"be set; choose one"
            )
        if self.val is not None:
            object.__setattr__(self, "val", _check_val(self.val))
        if self.imbalance is not None:
            if not _is_real(self.imbalance) or not 1 < self.imbalance < math.inf:
                raise ConfigError(
                    f"subset imbalance must be a finite number > 1 (the largest class's "
                    f"training images over the smallest's), got {self.imbalance!r}"
                )
            object.__setattr__(self, "imbalance", float(self.imbalance))
        if not _is_int(self.seed) or self.seed < 0:
            raise ConfigError(f"subset seed must be an integer >= 0, got {self.seed!r}")

    @property
    def is_identity(self) -> bool:
        """True when the spec keeps the dataset as it is."""
        fields = (self.classes, self.per_class, self.fraction, self.val, self.imbalance)
        return all(value is None for value in fields)


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _check_classes(classes: object) -> tuple[int | str, ...]:
    """Classes as a tuple of ints and strings, non-empty and without duplicates."""
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise ConfigError(
            f"subset classes must be a list of class indices or names, got {classes!r}"
        )
    items = tuple(int(c) if _is_int(c) else c for c in classes)  # type: ignore[union-attr]
    bad = [c for c in items if not isinstance(c, (int, str))]
    if bad:
        raise ConfigError(f"subset classes must be class indices (int) or names (str), got {bad}")
    if not items:
        raise ConfigError("subset classes must name at least one class, got an empty list")
    duplicates = sorted({repr(c) for c in items if items.count(c) > 1})
    if duplicates:
        raise ConfigError(
            f"subset classes must not repeat a class; repeated: {', '.join(duplicates)}"
        )
    return items


def _check_val(val: object) -> float | int:
    """`val` as a fraction in (0, 1) or an image count >= 1."""
    if _is_int(val):
        if val < 1:  # type: ignore[operator]
            raise ConfigError(
                f"subset val must be a fraction in (0, 1) or an image count >= 1, got {val!r}"
            )
        return int(val)  # type: ignore[arg-type]
    if _is_real(val) and 0 < val < 1:  # type: ignore[operator]
        return float(val)  # type: ignore[arg-type]
    raise ConfigError(
        f"subset val must be a fraction in (0, 1) or an image count >= 1, got {val!r}"
    )


def class_counts(split: Split, num_classes: int) -> np.ndarray:
    """Images per class in `split`: (num_classes,) int64."""
    labels = split.labels
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(
            f"labels range {labels.min()}..{labels.max()} does not fit {num_classes} classes"
        )
    return np.bincount(labels, minlength=num_classes).astype(np.int64)


def apply_subset(dataset: Dataset, spec: SubsetSpec) -> Dataset:
    """The part of `dataset` that `spec` asks for (see the module docstring for the order)."""
    if spec.is_identity:
        return dataset
    sampling = any(
        value is not None for value in (spec.val, spec.per_class, spec.fraction, spec.imbalance)
    )
    if sampling and "train" not in dataset.splits:
        raise DataError(
            f"subset per_class/fraction/val/imbalance need a 'train' split, but dataset "
            f"{dataset.name!r} has only {list(dataset.splits)}"
        )
    if spec.val is not None and "val" in dataset.splits:
        raise ConfigError(
            f"subset val={spec.val!r} asks for a validation split, but dataset "
            f"{dataset.name!r} already has one; unset subset val to use it"
        )
    chosen = _resolve_classes(dataset, spec.classes)  # (k,) original class indices
    relabel = np.full(dataset.num_classes, -1, dtype=np.int64)  # original label -> new label
    relabel[chosen] = np.arange(len(chosen))
    class_names = tuple(dataset.class_names[i] for i in chosen)

    splits: dict[str, Split] = {}
    for name, split in dataset.splits.items():
        if name == "train" and sampling:
            splits.update(_sample_train(split, relabel, class_names, spec))
        elif spec.classes is None:
            splits[name] = split
        else:
            positions = np.flatnonzero(relabel[split.labels] >= 0)  # kept, in original order
            splits[name] = Split(
                take_rows(split.images, positions), relabel[split.labels[positions]]
            )
    ordered = {name: splits[name] for name in SPLIT_NAMES if name in splits}
    notes = dataset.notes
    if spec.imbalance is not None:
        counts = class_counts(ordered["train"], len(class_names))
        notes = (
            *notes,
            f"long-tailed training split (data.imbalance={spec.imbalance:g}, seed {spec.seed}): "
            f"{' '.join(str(int(c)) for c in counts)} images per class; the test split is whole",
        )
    return Dataset(dataset.name, class_names, ordered, dataset.problems, notes)


def _sample_train(
    train: Split, relabel: np.ndarray, class_names: tuple[str, ...], spec: SubsetSpec
) -> dict[str, Split]:
    """'train' (and 'val' if asked) drawn from the training split, stratified by class."""
    num_classes = len(class_names)
    keys = np.random.default_rng(spec.seed).random(len(train))  # (N,) ranks images in a class
    positions = np.flatnonzero(relabel[train.labels] >= 0)  # (n,) kept, in original order
    labels = relabel[train.labels[positions]]  # (n,) new labels
    rank = _rank_within_class(labels, keys[positions], num_classes)  # (n,)
    counts = np.bincount(labels, minlength=num_classes)  # (k,)

    out: dict[str, Split] = {}
    val_counts = np.zeros(num_classes, dtype=np.int64)
    if spec.val is not None:
        val_counts = _val_counts(spec.val, counts, class_names)
        in_val = rank < val_counts[labels]
        out["val"] = Split(take_rows(train.images, positions[in_val]), labels[in_val])
    keep = _train_counts(spec, counts - val_counts, class_names)
    start = val_counts[labels]  # training ranks come right after the validation ones
    in_train = (rank >= start) & (rank < start + keep[labels])
    out["train"] = Split(take_rows(train.images, positions[in_train]), labels[in_train])
    return out


def _resolve_classes(dataset: Dataset, classes: tuple[int | str, ...] | None) -> np.ndarray:
    """Original class indices named by `classes` (all of them when None), in the order given."""
    if classes is None:
        return np.arange(dataset.num_classes)
    names = list(dataset.class_names)
    indices = []
    for c in classes:
        if isinstance(c, str):
            if c not in names:
                raise DataError(
                    f"subset classes: dataset {dataset.name!r} has no class named {c!r}; "
                    f"its classes are {names}"
                )
            indices.append(names.index(c))
        else:
            if not 0 <= c < len(names):
                raise DataError(
                    f"subset classes: class index {c} is out of range for dataset "
                    f"{dataset.name!r}, which has {len(names)} classes "
                    f"(0..{len(names) - 1}: {names})"
                )
            indices.append(c)
    repeated = sorted({names[i] for i in indices if indices.count(i) > 1})
    if repeated:
        raise DataError(
            f"subset classes {list(classes)} name the same class more than once "
            f"(by index and by name): {repeated}"
        )
    return np.asarray(indices, dtype=np.int64)


def _rank_within_class(labels: np.ndarray, keys: np.ndarray, num_classes: int) -> np.ndarray:
    """Each image's place (0, 1, ...) in its class when the class is sorted by `keys`."""
    order = np.lexsort((keys, labels))  # by label, then by key
    counts = np.bincount(labels, minlength=num_classes)
    starts = np.cumsum(counts) - counts  # (k,) first sorted position of each class
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels)) - starts[labels[order]]
    return rank


def _val_counts(val: float | int, counts: np.ndarray, class_names: tuple[str, ...]) -> np.ndarray:
    """Validation images per class: `val` spread in proportion to `counts`, stratified."""
    total = val if isinstance(val, int) else max(1, round(val * int(counts.sum())))
    cap = np.maximum(counts - 1, 0)  # every class keeps at least one training image
    if total > cap.sum():
        raise DataError(
            f"subset val={val!r} asks for {total} validation images, but the training split "
            f"({int(counts.sum())} images in {len(class_names)} classes) can give at most "
            f"{int(cap.sum())} while keeping one training image per class"
        )
    eligible = (cap > 0).astype(np.int64)
    floor = eligible if total >= eligible.sum() else np.zeros_like(eligible)
    return _apportion(total, counts, floor, cap)


def _apportion(total: int, counts: np.ndarray, floor: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Split `total` over classes in proportion to `counts`, each within [floor, cap].

    Largest-remainder method; needs floor.sum() <= total <= cap.sum(). Ties go to the lower
    class index, so the result is deterministic.
    """
    quota = total * counts / counts.sum()  # (k,) ideal shares
    take = np.clip(np.floor(quota).astype(np.int64), floor, cap)
    while (diff := total - int(take.sum())) != 0:
        remainder = quota - take
        if diff > 0:
            i = np.argmax(np.where(take < cap, remainder, -np.inf))
            take[i] += 1
        else:
            i = np.argmin(np.where(take > floor, remainder, np.inf))
            take[i] -= 1
    return take


def _train_counts(spec: SubsetSpec, counts: np.ndarray, class_names: tuple[str, ...]) -> np.ndarray:
    """Training images to keep per class, out of `counts` left after validation."""
    keep = _reduced_counts(spec, counts, class_names)
    if spec.imbalance is not None:
        keep = np.minimum(keep, long_tail_counts(int(keep.max()), len(keep), spec.imbalance))
    return keep


def long_tail_counts(largest: int, num_classes: int, ratio: float) -> np.ndarray:
    """The exponential profile: class i keeps int(largest * (1/ratio)^(i/(k-1))), at least 1."""
    if num_classes == 1:
        return np.array([largest], dtype=np.int64)
    steps = np.arange(num_classes) / (num_classes - 1)
    return np.maximum((largest * (1 / ratio) ** steps).astype(np.int64), 1)


def _reduced_counts(
    spec: SubsetSpec, counts: np.ndarray, class_names: tuple[str, ...]
) -> np.ndarray:
    """Training images per class after `per_class` or `fraction`."""
    if spec.per_class is not None:
        short = np.flatnonzero(counts < spec.per_class)
        if len(short):
            listed = ", ".join(f"{class_names[i]!r} has {counts[i]}" for i in short)
            raise DataError(
                f"subset per_class={spec.per_class} but some classes have fewer training "
                f"images (after the validation split): {listed}"
            )
        return np.full(len(counts), spec.per_class, dtype=np.int64)
    if spec.fraction is not None:
        keep = np.maximum(np.rint(spec.fraction * counts).astype(np.int64), 1)
        return np.minimum(keep, counts)
    return counts
