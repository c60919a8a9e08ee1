"""The dataset an experiment config describes: loaded, its classes chosen and its splits made."""

from __future__ import annotations

from pathlib import Path

from cnnlab.config import DataConfig
from cnnlab.data import Dataset, load_dataset
from cnnlab.data.subset import SubsetSpec, apply_subset


def load_configured(data: DataConfig, seed: int) -> Dataset:
    """`data.dataset` with its class subset, per-class count and validation split (from `seed`)."""
    dataset = load_dataset(
        data.dataset,
        data_dir=Path(data.data_dir) if data.data_dir else None,
        offline=data.offline,
        channels=data.channels,
        image_size=data.image_size,
        skip_bad=data.skip_bad,
        seed=seed,
    )
    spec = SubsetSpec(
        classes=data.classes,
        per_class=data.per_class,
        fraction=data.fraction,
        val=data.val,
        seed=seed,
    )
    return dataset if spec.is_identity else apply_subset(dataset, spec)
