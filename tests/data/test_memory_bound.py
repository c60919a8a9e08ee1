"""`data.max_gib` bounds what a load may take, refused before reading, and running out of
memory while reading is a clear error saying what was asked for (#19)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli import main
from cnnlab.config import DataConfig
from cnnlab.data import images, load_dataset
from cnnlab.data.idx import write_idx
from cnnlab.errors import ConfigError, DataTooLargeError


def small_folder(root, count=6):
    """`root/<class>/<n>.png`: two classes of 10x10 RGB images."""
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for n in range(count):
            Image.new("RGB", (10, 10), (n * 30, 0, 0)).save(root / name / f"{n}.png")
    return root


def test_an_image_folder_beyond_max_gib_in_memory_is_refused_before_decoding(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    folder = small_folder(tmp_path / "photos")
    decoded = []
    monkeypatch.setattr(images, "_decode_chunk", lambda *a: decoded.append(a))
    out = tmp_path / "runs"
    code = main(["train", "--dataset", f"imagefolder:{folder}", "--model", "fc_only",
                 "--set", "data.image_size=64", "--set", "data.max_gib=0.0001",
                 "--set", "data.storage=memory", "--out", str(out), "--name", "big", "--device", "cpu"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and not decoded
    line = next(x for x in err.splitlines() if x.startswith("cnnlab: error:"))
    assert f"{folder}: 12 images decoded to 3x64x64 would take 144.0 KiB" in line
    assert "beyond data.max_gib (104.9 KiB)" in line and "lower data.image_size" in line
    assert "or data.storage: mmap" in line  # what auto would have done
    assert "Traceback" not in err
    status = json.loads((out / "big" / "status.json").read_text())
    assert status["status"] == "failed" and "data.max_gib" in status["reason"]


def test_an_idx_file_beyond_max_bytes_is_refused_unread(tmp_path):
    for stem, shape in [("train-images-idx3-ubyte", (50, 28, 28)), ("t10k-images-idx3-ubyte",
                        (4, 28, 28)), ("train-labels-idx1-ubyte", (50,)),
                        ("t10k-labels-idx1-ubyte", (4,))]:  # fmt: skip
        write_idx(tmp_path / "mnist" / f"{stem}.gz", np.zeros(shape, np.uint8))
    with pytest.raises(DataTooLargeError, match=r"train-images-idx3-ubyte.gz: the 39,216 bytes"):
        load_dataset("mnist", data_dir=tmp_path, offline=True, max_bytes=20_000)
    fits = load_dataset("mnist", data_dir=tmp_path, offline=True, max_bytes=40_000)
    assert len(fits.split("train")) == 50


def test_running_out_of_memory_while_reading_says_what_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    folder = small_folder(tmp_path / "photos")

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 5.00 GiB for an array")

    monkeypatch.setattr(images, "_decode_chunk", no_memory)
    with pytest.raises(DataTooLargeError) as caught:
        load_dataset(f"imagefolder:{folder}", offline=True, use_cache=False)
    message = str(caught.value)
    assert f"out of memory reading dataset 'imagefolder:{folder}' from {folder}" in message
    assert "Unable to allocate 5.00 GiB" in message and "data.max_gib (8.0 GiB)" in message


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), 2000, "8"])
def test_max_gib_must_be_a_positive_size(value):
    with pytest.raises(ConfigError, match=r"data.max_gib: expected GiB in \(0, 1024\]"):
        DataConfig(max_gib=value)
