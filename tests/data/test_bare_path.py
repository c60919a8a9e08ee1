"""A bare path given as a dataset name (`my-folder/`, `my-photos.zip`) reads exactly as
`imagefolder:PATH`; a name that is neither a dataset nor a path says what would work (#20)."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli import main
from cnnlab.data import DATASETS, load_dataset
from cnnlab.data.catalog import lookup
from cnnlab.errors import DataError, DatasetNotFoundError


def flat_folder(root: Path, per_class: int = 6) -> Path:
    """`root/<class>/<n>.png`: two classes of 8x8 gray images, dark and light."""
    rng = np.random.default_rng(0)
    for name, level in (("dark", 40), ("light", 210)):
        (root / name).mkdir(parents=True)
        for n in range(per_class):
            pixels = np.clip(level + rng.integers(-20, 21, (8, 8)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{n}.png")
    return root


def archived(folder: Path, suffix: str) -> Path:
    """`folder` packed as `<folder><suffix>` beside it (.zip or .tar.gz)."""
    if suffix == ".zip":
        return Path(shutil.make_archive(str(folder), "zip", folder))
    target = folder.with_name(folder.name + suffix)
    with tarfile.open(target, "w:gz") as tar:
        tar.add(folder, arcname=".")
    return target


def test_a_dataset_name_wins_over_a_same_named_folder_unless_written_as_a_path(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    flat_folder(tmp_path / "mnist")
    assert lookup("mnist") == (DATASETS["mnist"], None)
    for name in ("mnist/", "./mnist", str(tmp_path / "mnist")):
        assert lookup(name) == (DATASETS["imagefolder"], Path(name))
    flat_folder(tmp_path / "pets")
    assert lookup("pets") == (DATASETS["imagefolder"], Path("pets"))  # exists, not a name


@pytest.mark.parametrize("suffix", ["", ".zip", ".tar.gz"])
def test_a_bare_path_loads_as_imagefolder_path_with_the_same_name_and_cache(
    tmp_path, monkeypatch, suffix
):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CNNLAB_CACHE", str(cache))
    folder = flat_folder(tmp_path / "photos")
    path = archived(folder, suffix) if suffix else folder
    bare = str(path) + ("/" if not suffix else "")
    assert lookup(bare) == lookup(f"imagefolder:{path}")
    first = load_dataset(bare, offline=True)
    entries = sorted(p.name for p in cache.rglob("*"))
    again = load_dataset(f"imagefolder:{path}", offline=True)
    assert sorted(p.name for p in cache.rglob("*")) == entries  # the same cache entry, reused
    assert first.name == again.name == "photos" and first.class_names == ("dark", "light")
    np.testing.assert_array_equal(first.split("train").images, again.split("train").images)


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_train_on_a_bare_folder_or_zip_through_the_cli(tmp_path, monkeypatch, capsys, kind):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    flat_folder(tmp_path / "photos")
    name = "photos/" if kind == "folder" else archived(tmp_path / "photos", ".zip").name
    out = tmp_path / "runs"
    code = main(["train", "--dataset", name, "--model", "fc_only", "--epochs", "1",
                 "--out", str(out), "--device", "cpu", "--quiet", "--no-report"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    run = out / ("photos-fc_only" if kind == "folder" else "photos.zip-fc_only")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"] == name and metrics["num_samples"] == 2  # 1 of each 6 held out
    capsys.readouterr()
    assert main(["eval", str(run), "--dataset", name]) == 0  # its own data, named the same way
    assert "wrote metrics.json, predictions.csv and figures/" in capsys.readouterr().out


def test_profile_reads_a_bare_path(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    folder = flat_folder(tmp_path / "photos")
    assert main(["data", "profile", str(folder), "--out", str(tmp_path / "profile")]) == 0
    assert (tmp_path / "profile" / "profile.md").is_file()
    assert "photos" in capsys.readouterr().out


def test_a_name_that_is_neither_a_dataset_nor_a_path_says_what_works(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as unknown:
        lookup("mnits")
    message = str(unknown.value)
    assert message.startswith("unknown dataset 'mnits'; known datasets: mnist, fashion-mnist")
    assert "imagefolder:PATH" in message and "a path to an image folder or an archive" in message
    for name in ("my-folder/", "my-photos.zip", "~/no-such-cnnlab-folder"):
        with pytest.raises(DatasetNotFoundError, match="does not exist") as missing:
            lookup(name)
        message = str(missing.value)
        assert str(Path(name).expanduser()) in message and "known datasets: mnist" in message
        assert "imagefolder:PATH" in message


def test_the_cli_says_a_missing_path_does_not_exist(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["train", "--dataset", "my-photos.zip", "--model", "fc_only", "--epochs", "1",
                 "--out", str(tmp_path / "runs"), "--device", "cpu", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("cnnlab: error:")
    assert f"the path my-photos.zip (relative to {tmp_path}) does not exist" in err
    assert "imagefolder:PATH" in err and "mnist-sample" in err


def test_summary_takes_shape_and_classes_from_a_bare_path(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    folder = flat_folder(tmp_path / "photos")
    assert main(["summary", "fc_only", "--dataset", f"{folder}/"]) == 0
    assert "fc_only: input 1x8x8, 2 classes" in capsys.readouterr().out
