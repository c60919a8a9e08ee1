"""Where decoded images live (`data.storage`): in memory, or memory-mapped from a disk cache.

`auto` maps the images when their decoded size would pass what this process should hold in
memory: MEMORY_FRACTION of the least of its cgroup's memory limit, the machine's available
memory and its address-space limit; or when it would pass `data.max_gib`, which bounds what
goes into RAM. A mapped cache must fit on its disk, which is checked before decoding starts.
"""

from __future__ import annotations

import resource
import shutil
from dataclasses import dataclass
from pathlib import Path

from cnnlab.config.schema import STORAGES
from cnnlab.data.arrays import byte_size, check_within
from cnnlab.errors import ConfigError, DataTooLargeError

MEMORY_FRACTION = 0.5  # of the usable memory, the most decoded images `auto` keeps resident
DISK_MARGIN = 64 * 2**20  # bytes left free on the cache's disk beyond a mapped cache file
CGROUP_ROOT = Path("/sys/fs/cgroup")
_UNLIMITED = 2**60  # bytes: cgroup v1 writes "no limit" as a number near 2**63


@dataclass(frozen=True)
class MemoryLimit:
    """The memory this process may use, in bytes, and where that number came from."""

    bytes: int
    source: str  # e.g. "the cgroup limit /sys/fs/cgroup/x/memory.max"


@dataclass(frozen=True)
class StorageChoice:
    """The storage a load uses and, for the log, why."""

    storage: str  # "memory" or "mmap"
    reason: str


def _cgroup_limits(proc_cgroup: Path, root: Path) -> list[MemoryLimit]:
    """The memory limits of this process's cgroup and its ancestors: `memory.max` (v2) or
    `memory.limit_in_bytes` (v1, under `root`/memory); "max" or a huge number means none."""
    try:
        lines = proc_cgroup.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    limits = []
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if controllers == "":
            top, name = root, "memory.max"
        elif "memory" in controllers.split(","):
            top, name = root / "memory", "memory.limit_in_bytes"
        else:
            continue
        folder = top / path.strip().lstrip("/")
        while True:
            try:
                text = (folder / name).read_text(encoding="utf-8").strip()
                if text != "max" and int(text) < _UNLIMITED:
                    limits.append(MemoryLimit(int(text), f"the cgroup limit {folder / name}"))
            except (OSError, ValueError):
                pass
            if folder == top or top not in folder.parents:
                break
            folder = folder.parent
    return limits


def _available(meminfo: Path) -> list[MemoryLimit]:
    """MemAvailable from /proc/meminfo (kB there), if it can be read."""
    try:
        for line in meminfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("MemAvailable:"):
                return [MemoryLimit(int(line.split()[1]) * 1024, f"MemAvailable in {meminfo}")]
    except (OSError, ValueError, IndexError):
        pass
    return []


def memory_limit(
    proc_cgroup: Path = Path("/proc/self/cgroup"),
    root: Path = CGROUP_ROOT,
    meminfo: Path = Path("/proc/meminfo"),
) -> MemoryLimit | None:
    """The least of the cgroup limits, the available memory and RLIMIT_AS; None if unknown."""
    limits = _cgroup_limits(proc_cgroup, root) + _available(meminfo)
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(MemoryLimit(soft, "the address-space limit (RLIMIT_AS)"))
    return min(limits, key=lambda limit: limit.bytes) if limits else None


def check_disk(what: str, need: int, cache_dir: Path) -> None:
    """Refuse a mapped cache of `need` bytes that the disk under `cache_dir` cannot hold."""
    folder = Path(cache_dir)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # unknown: writing the file says what is wrong
    if need + DISK_MARGIN > free:
        raise DataTooLargeError(
            f"{what} would take {byte_size(need)} in the disk cache under {cache_dir}, but that "
            f"disk has {byte_size(free)} free; free some space, point $CNNLAB_CACHE at a bigger "
            f"disk, or lower data.image_size"
        )


def resolve_storage(storage: str, need: int, max_bytes: int, can_map: bool) -> StorageChoice:
    """The storage `storage` means for `need` decoded bytes (`auto` decided here, nothing
    checked); `can_map` is False when there is no disk cache to map from."""
    if storage not in STORAGES:
        raise ConfigError(f"data.storage: expected one of {', '.join(STORAGES)}, got {storage!r}")
    if storage != "auto":
        return StorageChoice(storage, f"data.storage {storage}")
    limit = memory_limit()
    budget = max_bytes if limit is None else min(max_bytes, int(limit.bytes * MEMORY_FRACTION))
    if need <= budget or not can_map:
        return StorageChoice("memory", f"data.storage auto: in memory ({byte_size(need)} decoded)")
    within = (
        f"{MEMORY_FRACTION:.0%} of {byte_size(limit.bytes)}, {limit.source}"
        if limit is not None and budget < max_bytes
        else f"data.max_gib ({byte_size(max_bytes)})"
    )
    return StorageChoice(
        "mmap",
        f"data.storage auto: memory-mapped from the disk cache, since the decoded images "
        f"({byte_size(need)}) would pass what this process should hold in memory "
        f"({byte_size(budget)}: {within})",
    )


def check_room(
    choice: StorageChoice, what: str, need: int, max_bytes: int, cache_dir: Path | None
) -> None:
    """Refuse, before decoding, what `choice` cannot hold: RAM beyond data.max_gib, or a disk
    cache that is off or too small."""
    if choice.storage == "memory":
        check_within(what, need, max_bytes, "lower data.image_size, or data.storage: mmap")
        return
    if cache_dir is None:
        raise ConfigError(
            f"data.storage mmap needs the disk cache to write {what} into; it was turned off"
        )
    check_disk(what, need, cache_dir)
