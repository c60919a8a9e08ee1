"""ImageFolder source: <split>/<class>/<image> or <class>/<image> in a folder, .zip or .tar[.gz].

Every image is decoded once, in parallel, to one size and channel count, and the resulting
uint8 arrays are cached on disk under a key that changes whenever a file or a setting does.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.data.archive import ARCHIVE_SUFFIXES, Container, open_container
from cnnlab.data.arrays import DEFAULT_MAX_BYTES, SPLIT_NAMES, Dataset, Split
from cnnlab.data.folder_cache import (
    MappedEntry,
    archive_stamp,
    cache_entry,
    cached,
    cached_bytes,
    folder_stamp,
    write_cache,
)
from cnnlab.data.images import (
    DECODE_CHUNK,
    DEFAULT_RESIZE,
    GRAYSCALE_MODES,
    IMAGE_EXTENSIONS,
    RESIZE_MODES,
    Header,
    decode_many,
    read_image_size_and_mode,
)
from cnnlab.data.mapped import MappedImages
from cnnlab.data.storage import StorageChoice, check_room, resolve_storage
from cnnlab.errors import ConfigError, DataFormatError

SPLIT_FOLDERS = {  # folder name -> split
    "train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"
}  # fmt: skip
LAYOUT_HELP = (
    "expected <split>/<class>/<image> with split folders train/ (required), val/ and test/, "
    "or <class>/<image> with one folder per class"
)
_IMAGE_HELP = f"expected an image ({' '.join(IMAGE_EXTENSIONS)}) inside a class folder"
# Top-level files that describe a dataset rather than belong to it.
_TEXT_SUFFIXES = (".txt", ".md", ".rst", ".csv", ".json", ".yaml", ".yml", ".html", ".pdf")
_TEXT_STEMS = ("readme", "license", "licence", "copying", "notice", "citation", "authors")
_SAMPLE_HEADERS = 32  # train headers read up front to guess the default channels and size


@dataclass(frozen=True)
class _Layout:
    """What the folder tree says: class names and, per split, (member name, label) pairs."""

    class_names: tuple[str, ...]
    splits: dict[str, list[tuple[str, int]]]  # in (label, name) order


@dataclass(frozen=True)
class _Settings:
    """How every image is decoded."""

    channels: int
    size: tuple[int, int]  # (H, W)
    resize: str


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _is_top_level_text(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(_TEXT_SUFFIXES) or lower.startswith(_TEXT_STEMS)


def _children(prefix: str, files: list[str], dirs: list[str]) -> tuple[set[str], list[str]]:
    """Sub-folder names and file names directly under `prefix` ('' or ending in '/')."""
    sub, here = set(), []
    for name in files:
        if name.startswith(prefix):
            rest = name[len(prefix) :]
            if "/" in rest:
                sub.add(rest.split("/", 1)[0])
            else:
                here.append(rest)
    sub.update(d[len(prefix) :].split("/", 1)[0] for d in dirs if d.startswith(prefix))
    return sub, here


def _dataset_root(files: list[str], dirs: list[str]) -> str:
    """The prefix to read from: descend while the top holds one non-split folder and no image."""
    prefix = ""
    while True:
        sub, here = _children(prefix, files, dirs)
        if len(sub) != 1 or any(_is_image(f) for f in here):
            return prefix
        (only,) = sub
        if only.lower() in SPLIT_FOLDERS or not _children(f"{prefix}{only}/", files, dirs)[0]:
            return prefix  # a lone split, or a lone class folder of images
        prefix = f"{prefix}{only}/"


def _not_an_image(container: Container, name: str, why: str) -> DataFormatError:
    return DataFormatError(f"{container.describe(name)}: {why}; {_IMAGE_HELP} ({LAYOUT_HELP})")


def _read_layout(container: Container) -> _Layout:
    """Split and class of every image, with errors naming whatever does not fit the layout."""
    files = [m.name for m in container.members()]
    dirs = container.directories()
    root = _dataset_root(files, dirs)
    top, _ = _children(root, files, dirs)
    split_folders = {d: SPLIT_FOLDERS[d.lower()] for d in top if d.lower() in SPLIT_FOLDERS}
    by_split = "train" in split_folders.values()
    if by_split:
        others = sorted(top - set(split_folders))
        if others:
            raise DataFormatError(
                f"{container.describe(root + others[0])} is not a split folder; {LAYOUT_HELP}"
            )
        if len(set(split_folders.values())) < len(split_folders):
            raise DataFormatError(
                f"{container.path}: two folders name the same split ({sorted(split_folders)})"
            )
    elif split_folders:
        raise DataFormatError(
            f"{container.path}: found {sorted(split_folders)} but no train/ folder; {LAYOUT_HELP}"
        )
    depth = 2 if by_split else 1  # components before the image: (split, class) or (class,)
    images: dict[tuple[str, str], list[str]] = {}  # (split, class) -> member names
    folders: dict[tuple[str, str], str] = {}  # (split, class) -> the class folder's name

    def class_of(parts: list[str]) -> tuple[str, str]:
        key = (split_folders[parts[0]] if by_split else "train", parts[depth - 1])
        folders.setdefault(key, root + "/".join(parts[:depth]))
        return key

    for d in dirs:
        parts = d[len(root) :].split("/") if d.startswith(root) else []
        if len(parts) >= depth:
            images.setdefault(class_of(parts), [])
    for name in files:
        parts = name[len(root) :].split("/")
        if not name.startswith(root) or len(parts) == 1:  # above or at the top of the layout
            if _is_top_level_text(name.rsplit("/", 1)[-1]):
                continue
            raise _not_an_image(container, name, "a file outside any class folder")
        if len(parts) <= depth:
            raise _not_an_image(container, name, "a file outside any class folder")
        if not _is_image(name):
            raise _not_an_image(container, name, "not an image file (by its extension)")
        images.setdefault(class_of(parts), []).append(name)
    class_names = tuple(sorted(c for s, c in images if s == "train"))
    if not class_names:
        raise DataFormatError(f"{container.path}: no class folders found; {LAYOUT_HELP}")
    label_of = {c: i for i, c in enumerate(class_names)}
    splits: dict[str, list[tuple[str, int]]] = {}
    for (split, cls), names in sorted(images.items()):
        folder = folders[(split, cls)]
        if cls not in label_of:
            raise DataFormatError(
                f"{container.describe(folder)}: class {cls!r} is not among the train classes "
                f"{list(class_names)}"
            )
        if not names:
            raise DataFormatError(f"{container.describe(folder)}: empty class folder (no images)")
        splits.setdefault(split, []).extend((n, label_of[cls]) for n in sorted(names))
    for items in splits.values():
        items.sort(key=lambda item: (item[1], item[0]))
    ordered = {split: splits[split] for split in SPLIT_NAMES if split in splits}  # train first
    return _Layout(class_names, ordered)


def _chunks(container: Container, names: list[str]) -> Iterator[list[tuple[int, str, bytes]]]:
    """Batches of (index in `names`, source, bytes), read in the container's cheapest order."""
    index = {name: i for i, name in enumerate(names)}
    chunk = []
    for name, data in container.iter_read(names):
        chunk.append((index[name], container.describe(name), data))
        if len(chunk) == DECODE_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Target:
    """Where decoding writes: a new array in memory, or a mapped cache file (`data.storage`)."""

    def __init__(self, storage: str, max_bytes: int, cache_dir: Path | None, entry: Path | None):
        self.storage = storage  # data.storage: memory, mmap or auto
        self.max_bytes = max_bytes  # data.max_gib: what may go into RAM
        self.cache_dir = cache_dir
        self.entry = entry  # the mapped cache entry of this source; None: no cache
        self.choice: StorageChoice | None = None
        self.writer: MappedEntry | None = None

    def allocate(self, what: str, shape: tuple[int, int, int, int]) -> np.ndarray | None:
        """The file to decode into (mmap), or None for a new array; refuses what cannot fit."""
        need = int(np.prod(shape))
        if self.writer is None:  # a second pass (other settings) stays where the first went
            self.choice = resolve_storage(self.storage, need, self.max_bytes, bool(self.entry))
        check_room(self.choice, what, need, self.max_bytes, self.cache_dir)
        if self.choice.storage == "memory":
            return None
        if self.writer is None:
            self.writer = MappedEntry(self.entry)  # type: ignore[arg-type]
        return self.writer.allocate(shape)


def _decode_members(
    container: Container, names: list[str], settings: _Settings, workers: int, skip_bad: bool,
    target: _Target,
) -> tuple[np.ndarray, list[Header | None], list[str | None]]:  # fmt: skip
    """Decode members `names` in parallel into `target`: (N, C, H, W) images, headers, errors
    (None = fine); refused before the first image when neither memory nor disk can hold them."""
    (height, width), channels = settings.size, settings.channels
    what = f"{container.path}: {len(names):,} images decoded to {channels}x{height}x{width}"
    out = target.allocate(what, (len(names), channels, height, width))
    try:
        return decode_many(
            _chunks(container, names), len(names), channels=settings.channels,
            size=settings.size, resize=settings.resize, workers=workers,
            stop_on_error=not skip_bad, out=out,
        )  # fmt: skip
    except DataFormatError as e:
        raise DataFormatError(
            f"{e} (to skip unreadable images: cnnlab train --skip-bad, or data.skip_bad: true)"
        ) from e


def _guess_settings(
    container: Container, train_names: list[str], channels: int | None,
    size: tuple[int, int] | None, resize: str,
) -> _Settings:  # fmt: skip
    """Settings from a few train headers; the full decode pass then checks them on all."""
    if channels is not None and size is not None:
        return _Settings(channels, size, resize)
    wanted = set(train_names)
    sample = [m.name for m in container.members() if m.name in wanted][:_SAMPLE_HEADERS]
    headers = []
    for name, data in container.iter_read(sample):
        try:
            headers.append(read_image_size_and_mode(data, container.describe(name)))
        except DataFormatError:
            continue  # the decode pass reports it
    return _final_settings(headers, headers, channels, size, resize)


def _final_settings(
    all_headers: list[Header | None], train_headers: list[Header | None],
    channels: int | None, size: tuple[int, int] | None, resize: str,
) -> _Settings:  # fmt: skip
    """channels: 1 if every image is grayscale, else 3; size: the most common train (H, W)."""
    found = [h for h in train_headers if h is not None]
    if channels is None:
        channels = 1 if all(h[1] in GRAYSCALE_MODES for h in all_headers if h) else 3
    if size is None:
        size = Counter(h[0] for h in found).most_common(1)[0][0] if found else (1, 1)
    return _Settings(channels, size, resize)


def _decode_layout(
    container: Container, layout: _Layout, channels: int | None, size: tuple[int, int] | None,
    resize: str, skip_bad: bool, workers: int, name: str, target: _Target,
) -> Dataset:  # fmt: skip
    """Decode every image of `layout` into a Dataset, choosing default settings from headers."""
    assert next(iter(layout.splits)) == "train"  # so names[:n_train] are the train images
    names = [n for items in layout.splits.values() for n, _ in items]
    n_train = len(layout.splits["train"])
    settings = _guess_settings(container, names[:n_train], channels, size, resize)
    images, headers, errors = _decode_members(container, names, settings, workers, skip_bad, target)
    if size is None and all(h is None for h in headers[:n_train]):
        raise DataFormatError(f"{container.path}: no train image could be decoded")
    final = _final_settings(headers, headers[:n_train], channels, size, resize)
    if final != settings:  # the sample was not representative: decode again, rarely needed
        images, headers, errors = _decode_members(
            container, names, final, workers, skip_bad, target
        )
    ok = np.array([e is None for e in errors], dtype=bool)
    mapped = MappedImages(images) if target.writer is not None else None
    splits, start = {}, 0
    for split, items in layout.splits.items():
        stop = start + len(items)
        labels = np.array([label for _, label in items], dtype=np.int64)
        keep = ok[start:stop]
        if mapped is not None:  # rows of the file: nothing is copied
            split_images = mapped.take(np.arange(start, stop)[keep])
        else:
            split_images = images[start:stop] if keep.all() else images[start:stop][keep]
        splits[split] = Split(split_images, labels[keep])
        start = stop
    problems = tuple(e for e in errors if e is not None)
    return Dataset(name, layout.class_names, splits, problems)


def _default_name(path: Path) -> str:
    lower = path.name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lower.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name or str(path)


def _available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _check_request(channels: int | None, size: tuple[int, int] | None, resize: str) -> None:
    if channels not in (None, 1, 3):
        raise ConfigError(f"channels must be 1, 3 or None (from the images), got {channels!r}")
    if size is not None and (
        len(size) != 2 or not all(isinstance(d, int) and d >= 1 for d in size)
    ):
        raise ConfigError(f"size must be (height, width) positive ints or None, got {size!r}")
    if resize not in RESIZE_MODES:
        raise ConfigError(f"resize must be one of {list(RESIZE_MODES)}, got {resize!r}")


def _entries(cache_dir: Path, path: Path, stamp: object, request: dict) -> dict[str, Path]:
    """The cache entry of each storage for this source (the memory one keyed as it always was)."""
    return {
        "memory": cache_entry(cache_dir, path, stamp, request),
        "mmap": cache_entry(cache_dir, path, stamp, {**request, "storage": "mmap"}),
    }


def _from_cache(
    entries: dict[str, Path], storage: str, max_bytes: int, name: str
) -> tuple[Dataset, StorageChoice] | None:
    """The cached dataset in the storage asked for (auto: as its cached size decides)."""
    sizes = [b for b in map(cached_bytes, entries.values()) if b is not None]
    if not sizes:
        return None
    choice = resolve_storage(storage, sizes[0], max_bytes, can_map=True)
    dataset = cached(entries[choice.storage], name)
    return None if dataset is None else (dataset, choice)


def _noted(dataset: Dataset, choice: StorageChoice | None, entry: Path | None) -> Dataset:
    """`dataset` with a note saying its images are mapped from `entry`, and why."""
    if choice is None or choice.storage != "mmap":
        return dataset
    note = f"{dataset.name}: {choice.reason}; images read from {entry}"
    notes = (*dataset.notes, note)
    return Dataset(dataset.name, dataset.class_names, dataset.splits, dataset.problems, notes)


def load_imagefolder(
    path: Path,
    *,
    channels: int | None = None,
    size: tuple[int, int] | None = None,
    resize: str = DEFAULT_RESIZE,
    cache_dir: Path | None,
    skip_bad: bool = False,
    workers: int | None = None,
    name: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    storage: str = "memory",
) -> Dataset:
    """Load an image folder (a directory, .zip or .tar[.gz]) as a Dataset of uint8 arrays.

    channels / size default to the images' own (1 if all are grayscale; the most common train
    (H, W)). Without split folders every image is in `train` (the experiment holds a test split
    out: `data.configured.with_test_split`). With `cache_dir`, decoded arrays are reused until
    a file or a setting changes. `skip_bad` skips unreadable images, listing them in
    `Dataset.problems`. `storage` (`data.storage`): memory, mmap (decoded once into a file of
    the cache, then mapped read-only) or auto. Decoded arrays that would pass `max_bytes` in
    memory, or the free disk space when mapped, are refused before decoding starts.
    """
    size = tuple(size) if size is not None else None  # type: ignore[assignment]
    _check_request(channels, size, resize)
    resolve_storage(storage, 0, max_bytes, cache_dir is not None)  # a bad name fails first
    path = Path(path)
    name = name or _default_name(path)
    if workers is None:
        workers = _available_cores()
    request = {
        "channels": channels, "size": size, "resize": resize,
        "skip_bad": skip_bad,
    }  # fmt: skip
    entries: dict[str, Path] = {}
    if cache_dir is not None and path.is_file():  # an archive: no need to list it for the key
        entries = _entries(cache_dir, path, archive_stamp(path), request)
        found = _from_cache(entries, storage, max_bytes, name)
        if found is not None:
            return _noted(found[0], found[1], entries["mmap"])
    with open_container(path) as container:
        if cache_dir is not None and container.kind == "directory":
            entries = _entries(cache_dir, path, folder_stamp(container), request)
            found = _from_cache(entries, storage, max_bytes, name)
            if found is not None:
                return _noted(found[0], found[1], entries["mmap"])
        layout = _read_layout(container)
        target = _Target(storage, max_bytes, cache_dir, entries.get("mmap"))
        try:
            dataset = _decode_layout(
                container, layout, channels, size, resize, skip_bad, workers, name, target
            )
        except BaseException:
            if target.writer is not None:
                target.writer.discard()
            raise
    if target.writer is not None:
        return _noted(target.writer.commit(dataset, path), target.choice, entries["mmap"])
    if entries:
        write_cache(entries["memory"], dataset, path)
    return dataset
