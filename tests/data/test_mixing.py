"""MixUp and CutMix: soft targets, the exact mixing formulas, determinism, and the config keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlab.config import DataConfig, load_experiments
from cnnlab.data.arrays import Split
from cnnlab.data.loader import BatchLoader
from cnnlab.data.mixing import (
    MixingLoader,
    MixSpec,
    cutmix,
    cutmix_box,
    hard_labels,
    mix_batch,
    mixing_loader,
    soft_targets,
    training_loader,
)
from cnnlab.errors import ConfigError

B, C, H, W = 12, 3, 10, 14


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random float images (B, C, H, W) and labels 0..B-1, so a target row names its partner."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(B, C, H, W, generator=generator), torch.arange(B)


def partners(targets: torch.Tensor) -> tuple[float, torch.Tensor]:
    """(λ, perm) read back from the soft targets of labels 0..B-1 (perm[i] = i when unmixed)."""
    own = targets.diagonal()  # (B,) the weight of each image's own label
    others = targets - torch.diag(own)
    perm = torch.where(others.sum(dim=1) > 0, others.argmax(dim=1), torch.arange(B))
    mixed = own < 1
    return float(own[mixed][0]) if mixed.any() else 1.0, perm


def test_mixup_images_are_the_convex_blend_their_targets_name():
    images, labels = batch()
    rng = np.random.default_rng(3)
    for _ in range(5):
        mixed, targets = mix_batch(images, labels, MixSpec(mixup=0.4), B, rng)
        assert targets.shape == (B, B) and targets.dtype == torch.float32
        torch.testing.assert_close(targets.sum(dim=1), torch.ones(B))
        lam, perm = partners(targets)
        assert 0 <= lam <= 1
        own = targets.diagonal()
        assert torch.all((own == lam) | (perm == torch.arange(B)))  # one λ for the batch
        expected = lam * images + (1 - lam) * images[perm]
        torch.testing.assert_close(mixed, expected)
        assert sorted(perm.tolist()) == list(range(B))  # a permutation of the batch


def test_cutmix_lambda_is_the_exact_kept_area_after_clipping():
    values = torch.arange(B, dtype=torch.float32).view(B, 1, 1, 1)
    images = values.expand(B, C, H, W).contiguous()  # image i is filled with the value i
    labels = torch.arange(B)
    rng = np.random.default_rng(7)
    for _ in range(30):
        mixed, targets = mix_batch(images, labels, MixSpec(cutmix=1.0), B, rng)
        torch.testing.assert_close(targets.sum(dim=1), torch.ones(B))
        for i in range(B):
            kept = float((mixed[i] == i).float().mean())  # the fraction still its own
            if kept < 1:
                assert targets[i, i].item() == pytest.approx(kept, abs=1e-6)
                assert mixed[i][mixed[i] != i].unique().numel() == 1  # one pasted partner
    # λ drawn 0 asks for a box as big as the image; off-centre it is clipped, and λ says so
    top, left, bottom, right = box = cutmix_box(H, W, 0.0, np.random.default_rng(0))
    assert 0 <= top < bottom <= H and 0 <= left < right <= W
    pasted, lam = cutmix(images, torch.roll(torch.arange(B), 1), box)
    area = (bottom - top) * (right - left)
    assert area < H * W and lam == pytest.approx(1 - area / (H * W)) and lam > 0
    assert float((pasted[0] == 0).float().mean()) == pytest.approx(lam)
    assert cutmix_box(H, W, 0.0, _Centre()) == (0, 0, H, W)  # centred: the whole image


class _Centre:
    """A stand-in generator that puts the box's centre in the middle of the image."""

    def integers(self, high: int) -> int:
        return high // 2


def test_soft_targets_and_the_dominant_label():
    labels, perm = torch.tensor([0, 1, 2, 2]), torch.tensor([1, 0, 3, 2])
    targets = soft_targets(labels, perm, 0.7, 3)
    expected = torch.tensor([[0.7, 0.3, 0], [0.3, 0.7, 0], [0, 0, 1], [0, 0, 1]])
    torch.testing.assert_close(targets, expected)
    assert hard_labels(targets).tolist() == [0, 1, 2, 2]
    assert hard_labels(soft_targets(labels, perm, 0.2, 3)).tolist() == [1, 0, 2, 2]
    assert hard_labels(labels) is labels


def test_both_on_picks_each_method_about_half_the_time():
    images, labels = batch()
    rng = np.random.default_rng(0)
    methods = []
    for _ in range(60):
        mixed, targets = mix_batch(images, labels, MixSpec(mixup=1.0, cutmix=1.0), B, rng)
        _, perm = partners(targets)
        pasted = (mixed == images) | (mixed == images[perm])  # CutMix copies pixels exactly
        methods.append("cutmix" if bool(pasted.all()) else "mixup")
    assert 18 <= methods.count("cutmix") <= 42


def split(n: int = 40, classes: int = 4) -> Split:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (n, 1, 8, 8), dtype=np.uint8)
    return Split(images, np.arange(n) % classes)


def test_the_loader_mixes_deterministically_per_seed_and_epoch():
    data = DataConfig(augment="flip", mixup=0.3, cutmix=1.0)

    def epoch(seed: int, number: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        loader = training_loader(split(), data, 4, batch_size=8, seed=seed)
        loader.set_epoch(number)
        return list(loader)

    first, again = epoch(5, 1), epoch(5, 1)
    assert len(first) == 5
    for (x, t), (x2, t2) in zip(first, again, strict=True):
        assert torch.equal(x, x2) and torch.equal(t, t2) and t.shape == (8, 4)
        torch.testing.assert_close(t.sum(dim=1), torch.ones(8))
    for other in (epoch(5, 2), epoch(6, 1)):
        assert not all(torch.equal(t, t2) for (_, t), (_, t2) in zip(first, other, strict=True))


def test_mixing_off_leaves_the_loader_alone():
    loader = BatchLoader(split(), batch_size=8, shuffle=True)
    assert mixing_loader(loader, MixSpec(), 4) is loader
    wrapped = mixing_loader(loader, MixSpec(mixup=0.2), 4)
    assert isinstance(wrapped, MixingLoader) and len(wrapped) == len(loader) == 5
    with pytest.raises(ConfigError, match="data.mixup or data.cutmix"):
        MixingLoader(loader, MixSpec(), 4)


@pytest.mark.parametrize("value", ["-0.1", "nan", ".inf", "true", "'abc'"])
@pytest.mark.parametrize("key", ["data.mixup", "data.cutmix"])
def test_bad_alphas_are_refused_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_experiments(None, [f"{key}={value}"])


def test_the_config_keys_and_their_words():
    config = load_experiments(None, ["data.mixup=1", "data.cutmix=0.5"])[0]
    assert (config.data.mixup, config.data.cutmix) == (1.0, 0.5)
    spec = MixSpec.of(config.data)
    assert spec == MixSpec.of({"mixup": 1, "cutmix": 0.5}) and spec.enabled
    assert spec.describe().startswith("MixUp (α = 1) or CutMix (α = 0.5), one per batch (p = 1/2)")
    assert MixSpec(cutmix=1).describe().startswith("CutMix (α = 1); soft targets")
    assert MixSpec.of({}).describe() == "none" and not MixSpec.of(DataConfig()).enabled
    with pytest.raises(ConfigError, match="data.mixup"):
        MixSpec.of({"mixup": "lots"})
