"""Dataset profile: counts, pixel statistics, duplicates and train/test leakage on tiny data."""

from __future__ import annotations

import numpy as np

from cnnlab.cli import main
from cnnlab.data.arrays import Dataset, Split
from cnnlab.data.profile import example_grid, profile_dataset, profile_markdown


def tiny_dataset() -> Dataset:
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (6, 3, 4, 5), dtype=np.uint8)
    train[5] = train[1]  # one duplicate inside train
    test = rng.integers(0, 256, (3, 3, 4, 5), dtype=np.uint8)
    test[2] = train[0]  # one test image leaked from train
    return Dataset(
        "tiny",
        ("cat", "dog"),
        {
            "train": Split(train, np.array([0, 0, 0, 1, 1, 0])),
            "test": Split(test, np.array([1, 1, 0])),
        },
        problems=("bad.jpg: cannot decode",),
    )


def test_profile_counts_stats_duplicates_and_leaks():
    dataset = tiny_dataset()
    profile = profile_dataset(dataset)
    train, test = profile.splits
    assert (train.size, test.size) == (6, 3)
    assert train.class_counts == (4, 2) and test.class_counts == (1, 2)
    assert train.image_shape == (3, 4, 5)
    images = dataset.split("train").images.astype(np.float64)
    np.testing.assert_allclose(train.pixel_mean, images.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(train.pixel_std, images.std(axis=(0, 2, 3)))
    assert train.pixel_min == tuple(
        int(v) for v in dataset.split("train").images.min(axis=(0, 2, 3))
    )
    assert train.pixel_max == tuple(
        int(v) for v in dataset.split("train").images.max(axis=(0, 2, 3))
    )
    assert train.duplicate_images == 1 and test.duplicate_images == 0
    assert profile.leaked == {"test": 1}
    assert profile.problems == ("bad.jpg: cannot decode",)
    assert profile.total == 9 and abs(profile.share(train) - 100 * 6 / 9) < 1e-9
    np.testing.assert_allclose(profile.normalize_mean, images.mean(axis=(0, 2, 3)) / 255)
    np.testing.assert_allclose(profile.normalize_std, images.std(axis=(0, 2, 3)) / 255)


def test_profile_says_the_normalisation_a_model_applies():
    dataset = tiny_dataset()
    text = profile_markdown(profile_dataset(dataset))
    mean = dataset.split("train").images.astype(np.float64).mean(axis=(0, 2, 3)) / 255
    assert "## Preprocessing" in text
    assert "mean " + "/".join(f"{v:.4f}" for v in mean) in text
    only_test = Dataset(
        "t", ("a",), {"test": Split(dataset.split("test").images[:1], np.zeros(1, int))}
    )
    assert "No train split: no normalisation statistics." in profile_markdown(
        profile_dataset(only_test)
    )


def test_profile_markdown_has_every_section():
    text = profile_markdown(profile_dataset(tiny_dataset()))
    assert "| train | 6 | 66.7 % | 3×4×5 | uint8 |" in text
    assert "| test | 3 | 33.3 % | 3×4×5 | uint8 |" in text
    assert "9 images in all: train 66.7 %, test 33.3 %." in text
    assert "| 0 | cat | 4 | 1 |" in text and "| 1 | dog | 2 | 2 |" in text
    assert "test images identical to a train image: 1" in text
    assert "unreadable or missing items skipped: 1" in text
    assert "largest/smallest class = 2.00" in text


def test_example_grid_writes_png(tmp_path):
    path = example_grid(tiny_dataset(), tmp_path / "grid.png", per_class=3)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_profile_of_embedded_sample(tmp_path, capsys):
    assert main(["data", "profile", "mnist-sample", "--offline", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| train | 2,000 | 80.0 % | 1×28×28 | uint8 | 0 | 255 |" in out
    assert "| test | 500 | 20.0 % | 1×28×28 | uint8 | 0 | 255 |" in out
    assert "2,500 images in all: train 80.0 %, test 20.0 %." in out
    assert "channel with the train split's statistics: mean 0.1" in out
    assert (tmp_path / "profile.md").read_text().startswith("# Dataset profile: mnist-sample")
    assert (tmp_path / "examples.png").stat().st_size > 1000


def test_cli_list_shows_every_dataset(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path))
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    assert main(["data", "list", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("mnist", "fashion-mnist", "cifar10", "mnist-sample", "imagefolder:PATH"):
        assert name in out
    assert "embedded in cnnlab" in out


def test_cli_reports_missing_dataset_as_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path))
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    code = main(["data", "profile", "cifar10", "--offline", "--data-dir", str(tmp_path)])
    assert code == 1
    assert "dataset 'cifar10' was not found" in capsys.readouterr().err


def test_fingerprint_collisions_are_settled_by_the_bytes():
    from cnnlab.data.profile import duplicate_count, image_fingerprints, leaked_count

    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (6, 3, 5, 7), dtype=np.uint8)  # 105 bytes: padded words
    images[4] = images[1]
    prints = image_fingerprints(images)
    assert prints.dtype == np.uint64 and prints[4] == prints[1]
    assert len(set(prints.tolist())) == 5
    colliding = np.zeros(6, dtype=np.uint64)  # every fingerprint equal: only bytes decide
    assert duplicate_count(images, colliding) == duplicate_count(images, prints) == 1
    other = images[[0, 2]].copy()
    other[1, 0, 0, 0] ^= 1  # differs by one bit from train's image 2
    assert leaked_count(other, np.zeros(2, np.uint64), images, colliding) == 1
    assert leaked_count(other, image_fingerprints(other), images, prints) == 1
