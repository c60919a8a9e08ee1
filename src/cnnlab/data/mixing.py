"""MixUp and CutMix: training batches blended in pairs, with soft targets (B, K) that sum to 1.

MixUp (Zhang et al. 2018) takes λ·x + (1−λ)·x[perm]; CutMix (Yun et al. 2019) pastes a box of
area about (1−λ) from x[perm] into x and sets λ to the exact kept fraction after clipping. The
target of each image is λ·onehot(y) + (1−λ)·onehot(y[perm]). One λ ~ Beta(α, α) and one
permutation per batch (as timm's default); with both on, each batch picks one (p = 1/2).

Every draw comes from a NumPy generator seeded by (seed, epoch, MIX_STREAM, rank), the way the
loader seeds its order and augmentation, so a resumed epoch replays the same mixing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from cnnlab.config import DataConfig
from cnnlab.data.arrays import Split
from cnnlab.data.augment import AugmentSpec
from cnnlab.data.loader import BatchLoader, _derived_seed
from cnnlab.errors import ConfigError

MIX_STREAM = 2  # after the loader's epoch order (0) and augmentation (1)


@dataclass(frozen=True)
class MixSpec:
    """The Beta(α, α) parameters of MixUp and CutMix; 0 turns one off."""

    mixup: float = 0.0
    cutmix: float = 0.0

    def __post_init__(self) -> None:
        for name in ("mixup", "cutmix"):
            alpha = getattr(self, name)
            if not (np.isfinite(alpha) and alpha >= 0):
                raise ConfigError(f"data.{name}: expected a finite Beta alpha >= 0, got {alpha!r}")

    @classmethod
    def of(cls, data: DataConfig | dict) -> MixSpec:
        """The mixing a `DataConfig`, or the data section of a run's config.yaml, asks for."""
        if not isinstance(data, dict):
            return cls(data.mixup, data.cutmix)
        try:
            return cls(float(data.get("mixup") or 0.0), float(data.get("cutmix") or 0.0))
        except (TypeError, ValueError) as error:
            raise ConfigError(f"data.mixup / data.cutmix: expected numbers ({error})") from None

    @property
    def enabled(self) -> bool:
        return self.mixup > 0 or self.cutmix > 0

    def describe(self) -> str:
        """In words, e.g. 'MixUp (α = 0.2) or CutMix (α = 1), one per batch (p = 1/2)'."""
        parts = [f"{name} (α = {alpha:g})" for name, alpha in self.methods()]
        if not parts:
            return "none"
        both = " or ".join(parts) + ", one per batch (p = 1/2)" if len(parts) == 2 else parts[0]
        return both + "; soft targets λ·y + (1−λ)·y[perm], λ ~ Beta(α, α)"

    def methods(self) -> list[tuple[str, float]]:
        """The methods that are on, as (name, α), MixUp first."""
        named = (("MixUp", self.mixup), ("CutMix", self.cutmix))
        return [(name, alpha) for name, alpha in named if alpha > 0]


def soft_targets(
    labels: torch.Tensor, perm: torch.Tensor, lam: float, num_classes: int
) -> torch.Tensor:
    """λ·onehot(labels) + (1−λ)·onehot(labels[perm]): float32 (B, K), each row summing to 1."""
    onehot = F.one_hot(labels, num_classes).to(torch.float32)  # (B, K)
    return onehot.mul(lam).add_(onehot[perm], alpha=1 - lam)


def mixup(images: torch.Tensor, perm: torch.Tensor, lam: float) -> torch.Tensor:
    """λ·x + (1−λ)·x[perm] of float images (B, C, H, W)."""
    return images.mul(lam).add_(images[perm], alpha=1 - lam)


def cutmix_box(
    height: int, width: int, lam: float, rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of a box of area ≈ (1−λ)·H·W, its centre uniform on the
    image and its sides clipped to it (Yun et al. 2019)."""
    ratio = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h - cut_h // 2, height)
    left, right = max(cx - cut_w // 2, 0), min(cx + cut_w - cut_w // 2, width)
    return top, left, bottom, right


def cutmix(
    images: torch.Tensor, perm: torch.Tensor, box: tuple[int, int, int, int]
) -> tuple[torch.Tensor, float]:
    """x with `box` pasted from x[perm], and λ: the fraction of each image that is its own."""
    top, left, bottom, right = box
    H, W = images.shape[-2:]
    mixed = images.clone()
    mixed[:, :, top:bottom, left:right] = images[perm][:, :, top:bottom, left:right]
    lam = 1.0 - (bottom - top) * (right - left) / (H * W)
    return mixed, lam


def mix_batch(
    images: torch.Tensor,
    labels: torch.Tensor,
    spec: MixSpec,
    num_classes: int,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch mixed by MixUp or CutMix, drawn from `rng`: (images, soft targets (B, K))."""
    methods = spec.methods()
    name, alpha = methods[0] if len(methods) == 1 else methods[int(rng.random() >= 0.5)]
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(images.shape[0])).to(images.device)
    if name == "CutMix":
        box = cutmix_box(images.shape[-2], images.shape[-1], lam, rng)
        images, lam = cutmix(images, perm, box)
    else:
        images = mixup(images, perm, lam)
    return images, soft_targets(labels, perm, lam, num_classes)


class MixingLoader:
    """A training `BatchLoader` whose batches are mixed: yields (images, soft targets (B, K))."""

    def __init__(self, loader: BatchLoader, spec: MixSpec, num_classes: int) -> None:
        if not spec.enabled:
            raise ConfigError("MixingLoader needs data.mixup or data.cutmix above 0")
        self.loader = loader
        self.spec = spec
        self.num_classes = num_classes

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose batches (and mixing draws) the next iteration yields."""
        self.loader.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    @property
    def num_samples(self) -> int:
        return self.loader.num_samples

    def generator(self) -> np.random.Generator:
        """The current epoch's mixing draws, from (seed, epoch, MIX_STREAM, rank)."""
        loader = self.loader
        return np.random.default_rng(
            _derived_seed(loader.seed, loader.epoch, MIX_STREAM, loader.rank)
        )

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rng = self.generator()
        for images, labels in self.loader:
            yield mix_batch(images, labels, self.spec, self.num_classes, rng)


def mixing_loader(
    loader: BatchLoader, spec: MixSpec, num_classes: int
) -> BatchLoader | MixingLoader:
    """`loader` itself when mixing is off, else it wrapped to mix every batch."""
    return MixingLoader(loader, spec, num_classes) if spec.enabled else loader


def hard_labels(targets: torch.Tensor) -> torch.Tensor:
    """Class indices (B,): `targets` itself, or the dominant class of soft targets (B, K) (the
    larger weight; the lower class index at an exact tie)."""
    return targets.argmax(dim=1) if targets.ndim == 2 else targets


def training_loader(
    split: Split,
    data: DataConfig,
    num_classes: int,
    *,
    batch_size: int,
    seed: int,
    device: torch.device | str = "cpu",
    rank: int = 0,
    world_size: int = 1,
    channels_last: bool = False,
) -> BatchLoader | MixingLoader:
    """The training batches a run draws: shuffled (or balanced), augmented and mixed as `data`
    says; built here alone, so the preview replays exactly what the model sees."""
    loader = BatchLoader(
        split,
        batch_size=batch_size,
        device=device,
        shuffle=True,
        seed=seed,
        augment=AugmentSpec.parse(data.augment or None),
        rank=rank,
        world_size=world_size,
        channels_last=channels_last,
        sampler=data.sampler,
    )
    return mixing_loader(loader, MixSpec.of(data), num_classes)


def first_batch(
    loader: BatchLoader | MixingLoader, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first batch of epoch 1 (epoch 0) as training sees it: float images (B, C, H, W) in
    [0, 1] and soft targets (B, K) (one-hot when nothing is mixed)."""
    loader.set_epoch(0)
    images, targets = next(iter(loader))
    if targets.ndim == 1:
        targets = F.one_hot(targets, num_classes).to(torch.float32)
    return images, targets
