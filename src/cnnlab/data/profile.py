"""The questions a write-up must answer about its data: sizes and shares, balance, pixels,
duplicates, leaks, and the normalisation a model trained on it applies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.data.arrays import Dataset, Split
from cnnlab.errors import DataError

# uint8 bytes per chunk of pixel statistics: 4,096 CIFAR images, 83 of 3x224x224 (a chunk's
# float copies stay small, and a memory-mapped split is read a few MiB at a time)
STATS_CHUNK_BYTES = 12 * 2**20


def chunk_images(images: np.ndarray) -> int:
    """Images per chunk of (N, C, H, W) `images`: about STATS_CHUNK_BYTES, at least one."""
    return max(1, STATS_CHUNK_BYTES // max(1, int(np.prod(images.shape[1:]))))


@dataclass(frozen=True)
class SplitProfile:
    """Facts about one split."""

    name: str
    size: int
    image_shape: tuple[int, int, int]  # (C, H, W)
    class_counts: tuple[int, ...]
    pixel_min: tuple[int, ...]  # per channel
    pixel_max: tuple[int, ...]
    pixel_mean: tuple[float, ...]  # per channel, 0..255 scale
    pixel_std: tuple[float, ...]
    duplicate_images: int  # images that repeat an earlier image of the same split


@dataclass(frozen=True)
class DatasetProfile:
    """Facts about a whole dataset, including leakage between train and the other splits."""

    name: str
    class_names: tuple[str, ...]
    dtype: str
    splits: tuple[SplitProfile, ...]
    leaked: dict[str, int]  # split name -> its images that also appear in train
    problems: tuple[str, ...]
    # per channel, of pixels / 255 in the train split: what a new model normalises by
    normalize_mean: tuple[float, ...] | None = None
    normalize_std: tuple[float, ...] | None = None

    @property
    def total(self) -> int:
        """Images in all splits together."""
        return sum(split.size for split in self.splits)

    def share(self, split: SplitProfile) -> float:
        """`split`'s share of all images, in percent (0 for an empty dataset)."""
        return 100.0 * split.size / self.total if self.total else 0.0


def image_fingerprints(images: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint of each image's bytes (N,) uint64: equal images have equal ones.

    A seeded linear hash of the bytes as 64-bit words, computed chunk by chunk in NumPy (ten
    times faster than a digest per image); unequal images may collide, so counts built on it
    compare the bytes of images whose fingerprints match (`duplicate_count`, `leaked_count`).
    """
    N = len(images)
    size = int(np.prod(images.shape[1:]))
    words = -(-size // 8)
    multipliers = np.random.default_rng(0x5EED).integers(1, 2**63, words, dtype=np.uint64) | 1
    out = np.empty(N, dtype=np.uint64)
    step = chunk_images(images)
    for start in range(0, N, step):
        chunk = np.asarray(images[start : start + step]).reshape(-1, size)
        padded = np.zeros((len(chunk), words * 8), dtype=np.uint8)
        padded[:, :size] = chunk
        out[start : start + len(chunk)] = (padded.view("<u8") * multipliers).sum(
            axis=1, dtype=np.uint64
        )
    return out


def _groups(fingerprints: np.ndarray) -> list[np.ndarray]:
    """Positions sharing a fingerprint, one array per fingerprint that occurs more than once."""
    order = np.argsort(fingerprints, kind="stable")
    ordered = fingerprints[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, len(ordered)])
    return [order[start : start + n] for start, n in zip(starts, sizes, strict=True) if n > 1]


def duplicate_count(images: np.ndarray, fingerprints: np.ndarray) -> int:
    """Images that repeat an earlier image of the same array, byte for byte."""
    return sum(
        len(group) - len({images[i].tobytes() for i in group}) for group in _groups(fingerprints)
    )


def leaked_count(
    images: np.ndarray, fingerprints: np.ndarray, train: np.ndarray, train_prints: np.ndarray
) -> int:
    """Images of `images` equal byte for byte to some image of `train`."""
    candidates = np.flatnonzero(np.isin(fingerprints, train_prints))
    if not len(candidates):
        return 0
    by_print: dict[int, set[bytes]] = {}
    for j in np.flatnonzero(np.isin(train_prints, fingerprints[candidates])):
        by_print.setdefault(int(train_prints[j]), set()).add(train[j].tobytes())
    return sum(images[i].tobytes() in by_print[int(fingerprints[i])] for i in candidates)


def _pixel_sums(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int], list[int], int]:
    """Per-channel (min, max, sum, sum of squares, pixel count) of (N, C, H, W) uint8 images.

    Sums are accumulated exactly as integers over chunks of `chunk_images`: 10x faster
    than a float64 copy of each chunk, and no copy of the whole array is ever made.
    """
    N, C, H, W = images.shape
    minimum = np.full(C, 255, dtype=np.int64)
    maximum = np.zeros(C, dtype=np.int64)
    sums = np.zeros(C, dtype=np.int64)
    squares = np.zeros(C, dtype=np.int64)
    step = chunk_images(images)
    for start in range(0, N, step):
        chunk = images[start : start + step]
        minimum = np.minimum(minimum, chunk.min(axis=(0, 2, 3)))
        maximum = np.maximum(maximum, chunk.max(axis=(0, 2, 3)))
        sums += chunk.sum(axis=(0, 2, 3), dtype=np.int64)
        wide = chunk.astype(np.uint16)
        wide *= wide  # 255**2 fits in uint16
        squares += wide.sum(axis=(0, 2, 3), dtype=np.int64)
    return minimum, maximum, [int(v) for v in sums], [int(v) for v in squares], N * H * W


def _mean_std(total: list[int], total_sq: list[int], n: int, scale: int) -> tuple[np.ndarray, ...]:
    """Mean and population std of values / `scale` from their exact integer sums."""
    mean = np.array([v / (n * scale) for v in total])
    # (n * sum(x^2) - sum(x)^2) / (n^2 * scale^2), all in exact integers until the division
    var = np.array(
        [(n * q - v * v) / (n * n * scale * scale) for v, q in zip(total, total_sq, strict=True)]
    )
    return mean, np.sqrt(var)


def pixel_statistics(images: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-channel min, max, mean and std (population) of a (N, C, H, W) uint8 array, each
    (C,), in the 0..255 scale."""
    minimum, maximum, total, total_sq, n = _pixel_sums(images)
    return (minimum, maximum, *_mean_std(total, total_sq, max(n, 1), 1))


def channel_stats(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of a split's pixels in the [0, 1] scale, both (C,) float64:
    what a new model normalises by."""
    N, C, H, W = split.images.shape
    if N == 0 or H * W == 0:
        raise DataError(
            f"channel_stats needs at least one pixel, got images of shape {split.images.shape}"
        )
    _, _, total, total_sq, n = _pixel_sums(split.images)
    return _mean_std(total, total_sq, n, 255)


def profile_split(
    name: str, split: Split, num_classes: int, fingerprints: np.ndarray
) -> tuple[SplitProfile, tuple[np.ndarray, np.ndarray] | None]:
    """The facts of one split (`fingerprints` its images'), and its pixels' per-channel mean
    and std in the [0, 1] scale (None when it has no pixels), from one pass of sums."""
    counts = np.bincount(split.labels, minlength=num_classes)
    minimum = maximum = mean = std = np.zeros(split.images.shape[1])
    unit = None
    if len(split) and split.images[0].size:
        minimum, maximum, total, total_sq, n = _pixel_sums(split.images)
        mean, std = _mean_std(total, total_sq, n, 1)
        unit = _mean_std(total, total_sq, n, 255)
    profile = SplitProfile(
        name=name,
        size=len(split),
        image_shape=split.image_shape,
        class_counts=tuple(int(c) for c in counts),
        pixel_min=tuple(int(v) for v in minimum),
        pixel_max=tuple(int(v) for v in maximum),
        pixel_mean=tuple(float(v) for v in mean),
        pixel_std=tuple(float(v) for v in std),
        duplicate_images=duplicate_count(split.images, fingerprints),
    )
    return profile, unit


def profile_dataset(dataset: Dataset) -> DatasetProfile:
    """Profile every split of `dataset` and count images of val/test that also sit in train."""
    prints = {name: image_fingerprints(split.images) for name, split in dataset.splits.items()}
    train = dataset.splits.get("train")
    leaked = {
        name: leaked_count(split.images, prints[name], train.images, prints["train"])
        if train is not None
        else 0
        for name, split in dataset.splits.items()
        if name != "train"
    }
    profiled = {
        name: profile_split(name, split, dataset.num_classes, prints[name])
        for name, split in dataset.splits.items()
    }
    mean = std = None
    if "train" in profiled and profiled["train"][1] is not None:
        mean, std = (tuple(float(v) for v in values) for values in profiled["train"][1])
    return DatasetProfile(
        name=dataset.name,
        class_names=tuple(dataset.class_names),
        dtype="uint8",
        splits=tuple(split for split, _ in profiled.values()),
        leaked=leaked,
        problems=tuple(dataset.problems),
        normalize_mean=mean,
        normalize_std=std,
    )


def _per_channel(values: tuple, fmt: str) -> str:
    return "/".join(format(v, fmt) for v in values)


def normalisation_lines(profile: DatasetProfile) -> list[str]:
    """What a model trained on this data does to each pixel before its first layer."""
    if profile.normalize_mean is None or profile.normalize_std is None:
        return ["", "No train split: no normalisation statistics."]
    mean = _per_channel(profile.normalize_mean, ".4f")
    std = _per_channel(profile.normalize_std, ".4f")
    return [
        "",
        "## Preprocessing",
        "",
        "A model trained on this data (`cnnlab train`) takes pixels / 255 and normalises each "
        f"channel with the train split's statistics: mean {mean}, std {std} "
        "(a constant channel, std 0, is only centred). A pretrained backbone keeps the "
        "statistics of its own training data.",
    ]


def profile_markdown(profile: DatasetProfile) -> str:
    """The profile as Markdown tables (also readable as plain text in a terminal)."""
    lines = [f"# Dataset profile: {profile.name}", ""]
    lines += [
        "| split | samples | share | image shape | dtype | min | max | mean | std | duplicates |"
    ]
    lines += ["| --- | ---: | ---: | --- | --- | --- | --- | --- | --- | ---: |"]
    for split in profile.splits:
        shape = "×".join(str(d) for d in split.image_shape)
        lines.append(
            f"| {split.name} | {split.size:,} | {profile.share(split):.1f} % | {shape} | "
            f"{profile.dtype} | "
            f"{_per_channel(split.pixel_min, 'd')} | {_per_channel(split.pixel_max, 'd')} | "
            f"{_per_channel(split.pixel_mean, '.2f')} | {_per_channel(split.pixel_std, '.2f')} | "
            f"{split.duplicate_images:,} |"
        )
    shares = ", ".join(f"{split.name} {profile.share(split):.1f} %" for split in profile.splits)
    lines += ["", f"{profile.total:,} images in all: {shares}."]
    lines += normalisation_lines(profile)
    lines += ["", f"## Classes ({len(profile.class_names)})", ""]
    header = " | ".join(split.name for split in profile.splits)
    lines += [f"| # | class | {header} |", "| ---: | --- |" + " ---: |" * len(profile.splits)]
    for index, class_name in enumerate(profile.class_names):
        counts = " | ".join(f"{split.class_counts[index]:,}" for split in profile.splits)
        lines.append(f"| {index} | {class_name} | {counts} |")
    for split in profile.splits:
        if split.size:
            counts = np.asarray(split.class_counts)
            present = counts[counts > 0]
            ratio = present.max() / present.min() if len(present) else float("nan")
            lines.append("")
            lines.append(
                f"Balance of {split.name}: largest/smallest class = {ratio:.2f}"
                + ("" if len(present) == len(counts) else f"; {int((counts == 0).sum())} empty")
            )
    lines += ["", "## Leakage and problems", ""]
    if profile.leaked:
        for name, count in profile.leaked.items():
            lines.append(f"- {name} images identical to a train image: {count:,}")
    else:
        lines.append("- no split besides train")
    lines.append(f"- unreadable or missing items skipped: {len(profile.problems)}")
    lines += [f"  - {problem}" for problem in profile.problems[:20]]
    if len(profile.problems) > 20:
        lines.append(f"  - ... and {len(profile.problems) - 20} more")
    return "\n".join(lines) + "\n"


def example_grid(
    dataset: Dataset, path: Path, *, per_class: int = 8, max_classes: int = 20, seed: int = 0
) -> Path:
    """Save a grid of `per_class` random training examples for each class (rows) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    split = (
        dataset.split("train") if "train" in dataset.splits else next(iter(dataset.splits.values()))
    )
    rng = np.random.default_rng(seed)
    classes = range(min(dataset.num_classes, max_classes))
    figure, axes = plt.subplots(
        len(classes),
        per_class,
        figsize=(per_class * 0.9 + 1.6, len(classes) * 0.9 + 0.3),
        squeeze=False,
    )
    for row, label in enumerate(classes):
        members = np.flatnonzero(split.labels == label)
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for column in range(per_class):
            axis = axes[row, column]
            axis.set_xticks([])
            axis.set_yticks([])
            for spine in axis.spines.values():
                spine.set_visible(False)
            if column < len(chosen):
                image = split.images[chosen[column]]
                if image.shape[0] == 1:
                    axis.imshow(image[0], cmap="gray", vmin=0, vmax=255)
                else:
                    axis.imshow(np.transpose(image[:3], (1, 2, 0)))
        axes[row, 0].set_ylabel(
            dataset.class_names[label], rotation=0, ha="right", va="center", fontsize=9
        )
    figure.suptitle(f"{dataset.name}: training examples per class", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
