"""Reliability tests share the stress and fuzz harnesses in benchmarks/ (the heavy runs live there).

`tiny_config` is a run that exercises every source of state a resume must restore: dropout
(the global RNG), batch norm (buffers), augmentation (the loader's generator), a cosine
schedule and Adam.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import torch

from cnnlab.config import load_experiments
from cnnlab.training import load_checkpoint

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:  # fuzz_harness, fuzz_formats, stress_kill, stress_inputs
    sys.path.insert(0, str(BENCHMARKS))

TINY = (
    "data.dataset=mnist-sample",
    "data.classes=[0,1,7]",
    "data.per_class=20",
    "data.val=9",
    "data.offline=true",
    "data.augment=crop2,flip",
    "model.name=mlp",
    "model.options={hidden: [32], dropout: 0.3, batch_norm: true}",
    "train.epochs=3",
    "train.batch_size=8",
    "optim.schedule=cosine",
    "train.device=cpu",
    "train.threads=1",
)  # fmt: skip  (60 training images: 8 batches per epoch)


@pytest.fixture
def tiny_overrides() -> list[str]:
    """The tiny run as `key=value` overrides (for the command line)."""
    return list(TINY)


@pytest.fixture
def tiny_config(tmp_path):
    """A function building the tiny experiment config under tmp_path; later overrides win."""

    def make(name: str, *overrides: str):
        return load_experiments(None, [*TINY, f"out={tmp_path}", f"name={name}", *overrides])[0]

    return make


def _rows(path: Path) -> list[dict]:
    """A run's CSV rows without the columns that hold wall-clock times."""
    with open(path, newline="", encoding="utf-8") as stream:
        return [{k: v for k, v in r.items() if "seconds" not in k} for r in csv.DictReader(stream)]


def _same_run(run_dir: Path, reference: Path) -> None:
    """Assert two finished runs trained identically: curves, iterations, metrics, weights."""
    for name in ("metrics.csv", "iterations.csv"):
        assert _rows(run_dir / name) == _rows(reference / name), name
    finals = [json.loads((d / "final_metrics.json").read_text()) for d in (run_dir, reference)]
    assert {k: v for k, v in finals[0].items() if "seconds" not in k} == {
        k: v for k, v in finals[1].items() if "seconds" not in k
    }
    for name in ("best.pt", "last.pt"):
        ours, theirs = (load_checkpoint(d / name)["model"] for d in (run_dir, reference))
        assert ours.keys() == theirs.keys()
        for key, value in ours.items():
            assert torch.equal(value, theirs[key]), f"{name}: {key}"
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    assert not list(run_dir.rglob(".*.tmp")), "temporary files were left behind"


@pytest.fixture
def assert_same_run():
    """`assert_same_run(run_dir, reference)`: both runs trained bit for bit alike."""
    return _same_run
