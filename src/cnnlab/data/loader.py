"""Batches drawn by index from a uint8 tensor kept on the device.

The whole split is converted once to a (N, C, H, W) uint8 tensor on the device; each batch is
an index into it, augmented as uint8 and turned into float32 in [0, 1] on the device. No
DataLoader, no worker processes, no per-sample Python. The epoch order comes from a CPU
`torch.Generator` seeded with (seed, epoch), so it is the same on every device and a resumed
run sees the same batches; `set_epoch` chooses the epoch, as with DistributedSampler.
The "balanced" sampler draws the epoch's N indices with replacement, each image with
probability proportional to 1 / (its class's count), from the same (seed, epoch) generator.
A memory-mapped split (`data.storage: mmap`) stays on disk: a `MappedReader` thread reads
each batch's images ahead of the step, and the same order and augmentation draws make its
batches bit-identical to the resident ones.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from cnnlab.data.arrays import Split
from cnnlab.data.augment import AugmentSpec, augment_batch
from cnnlab.data.mapped import MappedImages
from cnnlab.data.mapped_reader import MappedReader
from cnnlab.errors import ConfigError, DataError

_PERMUTATION_STREAM = 0  # random streams derived from (seed, epoch): epoch order, augmentation
_AUGMENT_STREAM = 1
SAMPLERS = ("uniform", "balanced")  # data.sampler


def _derived_seed(seed: int, epoch: int, stream: int, rank: int) -> int:
    """A 64-bit torch seed for one (seed, epoch, stream, rank), well mixed by SeedSequence."""
    state = np.random.SeedSequence([seed, epoch, stream, rank]).generate_state(1, np.uint64)
    return int(state[0])


def _resident(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """`array` as a contiguous tensor on `device` (copied first if NumPy marks it read-only)."""
    array = np.ascontiguousarray(array)
    if not array.flags.writeable:  # e.g. a read-only memory map of the array cache
        array = array.copy()
    return torch.from_numpy(array).to(device)


class BatchLoader:
    """Yields (images, labels) batches: float32 (B, C, H, W) in [0, 1] and int64 (B,).

    With `world_size > 1` each rank takes every world_size-th image of the epoch order, padded
    by wrapping so all ranks get the same number of batches; a few images then appear twice
    in the epoch, so exact evaluation should use world_size=1.
    """

    def __init__(
        self,
        split: Split,
        *,
        batch_size: int,
        device: torch.device | str = "cpu",
        shuffle: bool,
        seed: int = 0,
        drop_last: bool = False,
        augment: AugmentSpec | str | None = None,
        rank: int = 0,
        world_size: int = 1,
        channels_last: bool = False,
        sampler: str = "uniform",
    ) -> None:
        _check_int("batch_size", batch_size, 1)
        _check_int("seed", seed, 0)
        _check_int("world_size", world_size, 1)
        _check_int("rank", rank, 0)
        if rank >= world_size:
            raise ConfigError(
                f"loader rank must be an integer in 0..{world_size - 1} for world_size "
                f"{world_size}, got {rank!r}"
            )
        if sampler not in SAMPLERS:
            raise ConfigError(
                f"loader sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}"
            )
        if len(split) == 0:
            raise DataError("BatchLoader needs a split with at least one image, got an empty one")
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        augment = AugmentSpec.parse(augment)  # also takes the "crop4,flip" form
        self.augment = None if augment.is_identity else augment
        self.rank = rank
        self.world_size = world_size
        self.channels_last = channels_last
        self.sampler = sampler
        self.epoch = 0
        # (N, C, H, W) uint8 on the device, or left on disk (read batch by batch)
        self.mapped = split.images if isinstance(split.images, MappedImages) else None
        self.images = None if self.mapped is not None else _resident(split.images, self.device)
        self.labels = _resident(split.labels, self.device)  # (N,) int64
        # Every rank gets the same number of samples: the epoch order is padded by wrapping.
        self._per_rank = -(-len(split) // world_size)
        if drop_last and self._per_rank < batch_size:
            raise ConfigError(
                f"loader batch_size {batch_size} with drop_last gives no batch at all: each of "
                f"the {world_size} rank(s) has only {self._per_rank} images"
            )

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order (and augmentation) the next iteration yields."""
        _check_int("epoch", epoch, 0)
        self.epoch = epoch

    def __len__(self) -> int:
        """Batches per epoch on this rank."""
        if self.drop_last:
            return self._per_rank // self.batch_size
        return -(-self._per_rank // self.batch_size)

    @property
    def num_samples(self) -> int:
        """Images this rank yields per epoch (wrapped padding included, dropped tail not)."""
        if self.drop_last:
            return len(self) * self.batch_size
        return self._per_rank

    def epoch_indices(self) -> torch.Tensor:
        """This rank's image indices for the current epoch, in order: (num_samples,) int64."""
        N = self.labels.shape[0]
        generator = torch.Generator().manual_seed(
            _derived_seed(self.seed, self.epoch, _PERMUTATION_STREAM, 0)
        )
        if self.sampler == "balanced":  # every class equally often, on CPU like the permutation
            labels = self.labels.cpu()
            weights = 1.0 / torch.bincount(labels).to(torch.float64)[labels]
            order = torch.multinomial(weights, N, replacement=True, generator=generator)
        elif self.shuffle:
            order = torch.randperm(N, generator=generator)  # on CPU: same on every device
        else:
            order = torch.arange(N)
        total = self._per_rank * self.world_size
        if total > N:  # wrap around, as DistributedSampler pads
            order = order[torch.arange(total) % N]
        mine = order[self.rank :: self.world_size]  # (per_rank,) disjoint across ranks
        return mine[: self.num_samples].to(self.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        indices = self.epoch_indices()
        generator = None
        if self.augment is not None:
            generator = torch.Generator(device=self.device).manual_seed(
                _derived_seed(self.seed, self.epoch, _AUGMENT_STREAM, self.rank)
            )
        batches = [
            indices[s : s + self.batch_size] for s in range(0, len(indices), self.batch_size)
        ]
        for batch, images in zip(batches, self._batch_images(batches), strict=True):
            if generator is not None:
                images = augment_batch(images, self.augment, generator)
            if self.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            yield images.to(torch.float32).div_(255), self.labels[batch]

    def _batch_images(self, batches: list[torch.Tensor]) -> Iterator[torch.Tensor]:
        """Each batch's (B, C, H, W) uint8 images on the device, in order."""
        if self.mapped is None:
            for batch in batches:
                yield self.images[batch]
            return
        with MappedReader(self.mapped, [b.cpu().numpy() for b in batches], self.device) as reader:
            yield from reader


def _check_int(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"loader {name} must be an integer >= {minimum}, got {value!r}")
