"""The device-resident batch loader, per-channel statistics and the Normalize first step."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from cnnlab.data import profile
from cnnlab.data.arrays import Split
from cnnlab.data.augment import AugmentSpec
from cnnlab.data.loader import BatchLoader
from cnnlab.data.profile import channel_stats
from cnnlab.errors import ConfigError, DataError, ModelError
from cnnlab.models.classifier import Normalize


def _split(N: int = 37) -> Split:
    """Image i is filled with the value i (N <= 256), label i % 3, so batches can be decoded."""
    images = np.broadcast_to(np.arange(N, dtype=np.uint8)[:, None, None, None], (N, 2, 3, 3))
    return Split(np.ascontiguousarray(images), np.arange(N, dtype=np.int64) % 3)


def _epoch_ids(loader: BatchLoader) -> list[int]:
    """Image ids in the order the loader yields them, checking labels match images."""
    ids: list[int] = []
    for images, labels in loader:
        batch_ids = torch.round(images[:, 0, 0, 0] * 255).long()
        np.testing.assert_array_equal(labels.numpy(), batch_ids.numpy() % 3)
        ids += batch_ids.tolist()
    return ids


def test_every_image_once_per_shuffled_epoch() -> None:
    loader = BatchLoader(_split(), batch_size=8, shuffle=True, seed=1)
    ids = _epoch_ids(loader)
    assert sorted(ids) == list(range(37))
    assert ids != list(range(37))
    assert len(loader) == 5 and loader.num_samples == 37


def test_without_shuffle_batches_come_in_order() -> None:
    loader = BatchLoader(_split(), batch_size=10, shuffle=False)
    assert _epoch_ids(loader) == list(range(37))
    assert [len(labels) for _, labels in loader] == [10, 10, 10, 7]


def test_drop_last_drops_only_the_partial_batch() -> None:
    loader = BatchLoader(_split(), batch_size=10, shuffle=True, drop_last=True)
    sizes = [len(labels) for _, labels in loader]
    assert sizes == [10, 10, 10] and len(loader) == 3 and loader.num_samples == 30
    assert len(set(_epoch_ids(loader))) == 30
    with pytest.raises(ConfigError, match="gives no batch at all.*only 37 images"):
        BatchLoader(_split(), batch_size=64, shuffle=True, drop_last=True)


def test_order_is_fixed_by_seed_and_epoch() -> None:
    a = BatchLoader(_split(), batch_size=8, shuffle=True, seed=4)
    b = BatchLoader(_split(), batch_size=8, shuffle=True, seed=4)
    first = _epoch_ids(a)
    assert _epoch_ids(a) == first  # iterating again without set_epoch repeats the epoch
    a.set_epoch(1)
    second = _epoch_ids(a)
    assert second != first and sorted(second) == sorted(first)
    b.set_epoch(1)
    assert _epoch_ids(b) == second  # a resumed run at epoch 1 sees the same order
    b.set_epoch(0)
    assert _epoch_ids(b) == first
    other_seed = BatchLoader(_split(), batch_size=8, shuffle=True, seed=5)
    assert _epoch_ids(other_seed) != first


@pytest.mark.parametrize("N", [36, 37])
def test_two_ranks_split_the_epoch(N: int) -> None:
    ranks = [
        BatchLoader(_split(N), batch_size=5, shuffle=True, seed=2, rank=r, world_size=2)
        for r in range(2)
    ]
    for loader in ranks:
        loader.set_epoch(3)
    ids = [_epoch_ids(loader) for loader in ranks]
    assert len(ids[0]) == len(ids[1]) == 19 - (N == 36)
    assert len(ranks[0]) == len(ranks[1]) == 4
    assert set(ids[0]) | set(ids[1]) == set(range(N))
    overlap = set(ids[0]) & set(ids[1])
    assert len(overlap) == (0 if N == 36 else 1)  # an odd epoch is padded by one wrapped image
    whole = BatchLoader(_split(N), batch_size=5, shuffle=True, seed=2)
    whole.set_epoch(3)
    order = _epoch_ids(whole)
    assert ids[0] == order[0::2] and ids[1] == (order + order[:1])[1::2]


def test_many_ranks_pad_by_wrapping() -> None:
    loaders = [
        BatchLoader(_split(5), batch_size=2, shuffle=False, rank=r, world_size=4) for r in range(4)
    ]
    assert [_epoch_ids(loader) for loader in loaders] == [[0, 4], [1, 0], [2, 1], [3, 2]]


def test_outputs_are_float_in_unit_range_on_the_device() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 3, 4, 5), dtype=np.uint8)
    split = Split(images, rng.integers(0, 10, 20))
    loader = BatchLoader(split, batch_size=20, shuffle=False, device=torch.device("cpu"))
    ((x, y),) = list(loader)
    assert x.dtype == torch.float32 and x.shape == (20, 3, 4, 5) and x.device.type == "cpu"
    assert y.dtype == torch.int64 and y.shape == (20,)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    np.testing.assert_array_equal(x.numpy(), images.astype(np.float32) / 255)
    np.testing.assert_array_equal(y.numpy(), split.labels)
    assert loader.images.dtype == torch.uint8 and loader.labels.dtype == torch.int64


def test_channels_last_flag() -> None:
    plain = BatchLoader(_split(), batch_size=8, shuffle=True, seed=3)
    fast = BatchLoader(_split(), batch_size=8, shuffle=True, seed=3, channels_last=True)
    for (a, _), (b, _) in zip(plain, fast, strict=True):
        assert not a.is_contiguous(memory_format=torch.channels_last)
        assert b.is_contiguous(memory_format=torch.channels_last)
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_augmentation_is_applied_and_reproducible_per_epoch() -> None:
    rng = np.random.default_rng(1)
    split = Split(rng.integers(1, 256, (16, 1, 6, 6), dtype=np.uint8), np.zeros(16, np.int64))
    spec = AugmentSpec(crop_padding=2)

    def batch(epoch: int) -> np.ndarray:
        loader = BatchLoader(split, batch_size=16, shuffle=False, augment=spec, seed=7)
        loader.set_epoch(epoch)
        return next(iter(loader))[0].numpy()

    plain = next(iter(BatchLoader(split, batch_size=16, shuffle=False)))[0].numpy()
    np.testing.assert_array_equal(batch(0), batch(0))
    assert not np.array_equal(batch(0), plain)
    assert not np.array_equal(batch(0), batch(1))
    assert (batch(0) == 0).any()  # zero fill from the padding


def test_read_only_arrays_load_without_warnings() -> None:
    split = _split()
    split.images.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loader = BatchLoader(split, batch_size=8, shuffle=False)
    assert _epoch_ids(loader) == list(range(37))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"seed": -2}, "seed must be an integer >= 0"),
        ({"world_size": 0}, "world_size must be an integer >= 1"),
        ({"rank": 2, "world_size": 2}, r"rank must be an integer in 0\.\.1 for world_size 2"),
    ],
)
def test_rejects_bad_settings(kwargs: dict, match: str) -> None:
    settings = {"batch_size": 4, "shuffle": True} | kwargs
    with pytest.raises(ConfigError, match=match):
        BatchLoader(_split(), **settings)


def test_rejects_an_empty_split_and_a_negative_epoch() -> None:
    empty = Split(np.zeros((0, 1, 2, 2), np.uint8), np.zeros(0, np.int64))
    with pytest.raises(DataError, match="at least one image"):
        BatchLoader(empty, batch_size=4, shuffle=False)
    with pytest.raises(ConfigError, match="epoch must be an integer >= 0"):
        BatchLoader(_split(), batch_size=4, shuffle=False).set_epoch(-1)


def test_channel_stats_match_a_float64_reference(monkeypatch) -> None:
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (23, 3, 5, 4), dtype=np.uint8)
    images[:, 1] //= 4  # a darker channel, so the three differ
    split = Split(images, np.zeros(23, np.int64))
    reference = images.astype(np.float64) / 255
    for chunk in (60, 7 * 60, 2**20):  # bytes: one 3x5x4 image per chunk, several, everything
        monkeypatch.setattr(profile, "STATS_CHUNK_BYTES", chunk)
        mean, std = channel_stats(split)
        assert mean.shape == std.shape == (3,) and mean.dtype == np.float64
        np.testing.assert_allclose(mean, reference.mean(axis=(0, 2, 3)), rtol=0, atol=1e-12)
        np.testing.assert_allclose(std, reference.std(axis=(0, 2, 3)), rtol=0, atol=1e-12)


def test_channel_stats_of_a_constant_channel_is_exactly_zero() -> None:
    images = np.full((4, 2, 3, 3), 200, dtype=np.uint8)
    images[:, 1] = np.arange(9, dtype=np.uint8).reshape(3, 3)
    mean, std = channel_stats(Split(images, np.zeros(4, np.int64)))
    assert mean[0] == 200 / 255 and std[0] == 0.0
    with pytest.raises(DataError, match="at least one pixel"):
        channel_stats(Split(np.zeros((0, 1, 2, 2), np.uint8), np.zeros(0, np.int64)))


def test_normalize_uses_buffers_and_standardises_the_data() -> None:
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (50, 3, 6, 6), dtype=np.uint8)
    mean, std = channel_stats(Split(images, np.zeros(50, np.int64)))
    norm = Normalize(mean, std)
    assert list(norm.parameters()) == []
    assert set(norm.state_dict()) == {"mean", "std"}
    assert norm.mean.shape == norm.std.shape == (1, 3, 1, 1)
    out = norm(torch.from_numpy(images).float() / 255)
    np.testing.assert_allclose(out.mean(dim=(0, 2, 3)).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(dim=(0, 2, 3), correction=0).numpy(), 1, atol=1e-5)
    assert "mean=[" in repr(norm)


def test_normalize_rejects_bad_statistics() -> None:
    with pytest.raises(ModelError, match=r"channel\(s\) \[1\] have std \[0\.0\]"):
        Normalize([0.5, 0.5], [0.2, 0.0])
    with pytest.raises(ModelError, match=r"shape \(C,\), got \(2,\) and \(3,\)"):
        Normalize([0.5, 0.5], [0.2, 0.2, 0.2])
