"""The dataset an experiment config describes: loaded, given a held-out test split when its
files have none, its classes chosen and its splits made.

Image folders come as `train/` + `test/`, `train/` + `val/` + `test/`, `train/` + `val/`
(the layout of most downloadable photo sets), `train/` alone, or `<class>/<image>` (read as
a train split). Every one gets a test split before any training: `train/` + `val/` holds
`val/` out as the test split, and `train/` alone or a flat folder holds out a stratified 20%
of each class (from the seed). Validation, if asked for (`data.val`), is then drawn from what
is left of `train/`, stratified. `Dataset.notes` says which rule applied.
"""

from __future__ import annotations

from pathlib import Path

from cnnlab.config import DataConfig
from cnnlab.data import IMAGEFOLDER_PREFIX, Dataset, load_dataset
from cnnlab.data.images import DEFAULT_RESIZE, RESIZE_RULES
from cnnlab.data.subset import SubsetSpec, apply_subset

HELD_OUT_FRACTION = 0.2  # of each class of a train-only folder, held out as the test split


def with_test_split(dataset: Dataset, seed: int) -> Dataset:
    """`dataset` with a test split: its own, its `val` split held out, or 20% of `train`."""
    if "test" in dataset.splits or "train" not in dataset.splits:
        return dataset
    train = dataset.split("train")
    if "val" in dataset.splits:
        test = dataset.split("val")
        note = (
            f"{dataset.name}: no test split; its val split ({len(test)} images) is held out as "
            f"the test split, and validation (data.val) is drawn from train"
        )
    else:
        carved = apply_subset(dataset, SubsetSpec(val=HELD_OUT_FRACTION, seed=seed))
        train, test = carved.split("train"), carved.split("val")
        note = (
            f"{dataset.name}: no test or val split; {HELD_OUT_FRACTION:.0%} of each class "
            f"({len(test)} images, drawn from seed {seed}) is held out as the test split"
        )
    splits = {"train": train, "test": test}
    notes = (*dataset.notes, note)
    return Dataset(dataset.name, dataset.class_names, splits, dataset.problems, notes)


def load_files(data: DataConfig) -> Dataset:
    """`data.dataset` as its files hold it: where `data` says to look, decoded as it says."""
    return load_dataset(
        data.dataset,
        data_dir=Path(data.data_dir) if data.data_dir else None,
        offline=data.offline,
        channels=data.channels,
        image_size=data.image_size,
        skip_bad=data.skip_bad,
        max_bytes=int(data.max_gib * 2**30),
        storage=data.storage,
    )


def load_configured(data: DataConfig, seed: int) -> Dataset:
    """`data.dataset` with its class subset, per-class count and validation split (from `seed`)."""
    dataset = with_test_split(load_files(data), seed)
    spec = SubsetSpec(
        classes=data.classes,
        per_class=data.per_class,
        fraction=data.fraction,
        val=data.val,
        imbalance=data.imbalance,
        seed=seed,
    )
    return dataset if spec.is_identity else apply_subset(dataset, spec)


def image_folder_rule(
    dataset: str, image_size: object = None, channels: object = None
) -> str | None:
    """How `cnnlab train` decodes an image folder's pictures, in words (None for other data)."""
    if not str(dataset).startswith(IMAGEFOLDER_PREFIX):
        return None
    size = (
        "the most common size among the training images"
        if image_size is None
        else f"data.image_size = {image_size}"
    )
    colour = (
        "1 channel if every image is grayscale, else 3 (RGB)"
        if channels is None
        else f"data.channels = {channels}"
    )
    return (
        f"decoded to {colour}, at {size}; each picture {RESIZE_RULES[DEFAULT_RESIZE]}; "
        "transparency is composited onto black"
    )
