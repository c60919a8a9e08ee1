"""Image folders without a test/ folder get a held-out test split before training starts, say
how in the log and the report, and end evaluated (#19)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli import main
from cnnlab.config import DataConfig
from cnnlab.data.configured import load_configured


def photo_folder(root: Path, splits: dict[str, int]) -> Path:
    """`root/<split>/<class>/<n>.jpg`, two classes of 20x24 RGB JPEGs."""
    rng = np.random.default_rng(0)
    for split, count in splits.items():
        for name, colour in (("cat", 40), ("dog", 200)):
            folder = root / split / name
            folder.mkdir(parents=True)
            for n in range(count):
                pixels = np.clip(colour + rng.integers(-30, 31, (20, 24, 3)), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{n}.jpg")
    return root


@pytest.mark.parametrize(
    ("splits", "test_images", "rule"),
    [
        ({"train": 10, "val": 3}, 6, "its val split (6 images) is held out as the test split"),
        ({"train": 10}, 4, "20% of each class (4 images, drawn from seed 0) is held out"),
        ({".": 10}, 4, "no test or val split; 20% of each class (4 images, drawn from seed 0)"),
    ],
    ids=["train+val", "train-only", "flat"],
)
def test_the_test_split_is_held_out_before_training_and_said(
    tmp_path, monkeypatch, capsys, splits, test_images, rule
):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    folder = photo_folder(tmp_path / "photos", splits)
    data = load_configured(DataConfig(dataset=f"imagefolder:{folder}", val=2), seed=0)
    assert (
        sorted(data.splits) == ["test", "train", "val"] and len(data.split("test")) == test_images
    )
    assert len(data.split("val")) == 2 and rule in data.notes[0]
    out = tmp_path / "runs"
    code = main(["train", "--dataset", f"imagefolder:{folder}", "--model", "fc_only", "--epochs",
                 "1", "--set", "data.val=2", "--out", str(out), "--name", "r", "--device", "cpu"])  # fmt: skip
    assert code == 0
    assert rule in capsys.readouterr().err  # said on the console as training starts
    log = (out / "r" / "train.log").read_text().splitlines()
    assert any(
        rule in line for line in log[: log.index(next(x for x in log if x.startswith("epoch")))]
    )
    metrics = json.loads((out / "r" / "metrics.json").read_text())
    assert metrics["num_samples"] == test_images
    assert "Splits: photos: " in (out / "r" / "report.md").read_text()
