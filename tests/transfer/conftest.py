"""Transfer fixtures: a tiny batch-norm backbone run, and configs that transfer from a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnlab.config import ExperimentConfig, load_experiments
from cnnlab.experiment.engine import train

TINY_DEEP = "model.options={widths: [4, 8], hidden: [16]}"  # conv-bn stages + a bn hidden layer
TARGET = ("data.dataset=mnist-sample", "data.classes=[5,6,7,8,9]", "data.per_class=8")


def experiment(out: Path, name: str, *overrides: str) -> ExperimentConfig:
    """A CPU config writing `out/name`: offline, 1 epoch, batch 16; later overrides win."""
    return load_experiments(
        None,
        [
            "data.offline=true", "train.epochs=1", "train.batch_size=16", "train.device=cpu",
            f"out={out}", f"name={name}", *overrides,
        ],
    )[0]  # fmt: skip


def transfer_config(out: Path, name: str, source: Path, *overrides: str) -> ExperimentConfig:
    """Digits 5-9 of the sample (8 per class) from the backbone run `source`."""
    return experiment(out, name, *TARGET, f"model.pretrained={source}", *overrides)


@pytest.fixture(scope="session")
def deep_run(tmp_path_factory) -> Path:
    """A 5-class grayscale backbone with batch norm: convnet_deep on digits 0-4 (10 per class)."""
    out = tmp_path_factory.mktemp("transfer_backbones")
    config = experiment(
        out,
        "deep",
        "data.dataset=mnist-sample",
        "data.classes=[0,1,2,3,4]",
        "data.per_class=10",
        "model.name=convnet_deep",
        TINY_DEEP,
    )
    return train(config, quiet=True, report=False).run_dir


@pytest.fixture(scope="session")
def make_config():
    """`experiment(out, name, *overrides)`: a 1-epoch CPU config (for tests to build on)."""
    return experiment


@pytest.fixture(scope="session")
def make_transfer_config():
    """`transfer_config(out, name, source, *overrides)`: digits 5-9 from the run `source`."""
    return transfer_config
