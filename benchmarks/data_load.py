"""How fast datasets load: CIFAR-10 JPEG folder (first decode, cached reload) and MNIST IDX.

Finds data through --data-dir or $CNNLAB_DATA (a folder holding `cifar10-jpg.tar.gz` and/or
`mnist/`). Caches and the extracted copy go to fresh temporary folders, so every "first
decode" really decodes.

    python benchmarks/data_load.py --data-dir /path/to/data [--workers N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnnlab.data.archive import extract_safely
from cnnlab.data.arrays import Dataset
from cnnlab.data.imagefolder import load_imagefolder

CIFAR_ARCHIVE = "cifar10-jpg.tar.gz"


def machine() -> str:
    """CPU model, usable cores, Python / torch versions and the current load."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"CPU: {model} | cores available: {cores} | Python {platform.python_version()} | "
        f"torch {torch_version} | load average now: {load:.1f} (other work skews timings)"
    )


def timed(load: Callable[[], Dataset | list]) -> tuple[float, Dataset | list]:
    start = time.perf_counter()
    result = load()
    return time.perf_counter() - start, result


def count(result: Dataset | list | np.ndarray) -> int:
    if isinstance(result, Dataset):
        return sum(len(split) for split in result.splits.values())
    return len(result)


def shapes(result: Dataset | list | np.ndarray) -> str:
    if isinstance(result, Dataset):
        return ", ".join(f"{s} {tuple(d.images.shape)}" for s, d in result.splits.items())
    if isinstance(result, np.ndarray):
        return str(result.shape)
    return f"{len(result)} files"


def cifar_cases(data_dir: Path, workers: int | None, scratch: Path) -> list[tuple]:
    """(case, seconds, result) rows for the CIFAR-10 JPEG archive and an extracted copy."""
    archive = data_dir / CIFAR_ARCHIVE
    if not archive.exists():
        print(f"skip CIFAR-10 JPEG: no {archive}", file=sys.stderr)
        return []
    rows = []

    def load(source: Path, cache: Path) -> Callable[[], Dataset]:
        return lambda: load_imagefolder(source, cache_dir=cache, workers=workers)

    for label, source in [("tar.gz", archive), ("folder", scratch / "extracted" / "cifar10-jpg")]:
        if label == "folder":
            seconds, files = timed(lambda: extract_safely(archive, scratch / "extracted"))
            rows.append(("CIFAR-10 JPEG extract_safely (tar.gz -> temp dir)", seconds, files))
        cache = scratch / f"cache-{label}"
        rows.append((f"CIFAR-10 JPEG {label}: first decode", *timed(load(source, cache))))
        rows.append((f"CIFAR-10 JPEG {label}: cached reload", *timed(load(source, cache))))
        warm = min((timed(load(source, cache)) for _ in range(3)), key=lambda r: r[0])
        rows.append((f"CIFAR-10 JPEG {label}: cached reload, warm", *warm))
    return rows


def pool_cases(data_dir: Path, n: int = 10_000, repeats: int = 3) -> list[tuple]:
    """decode_many on n CIFAR JPEGs held in memory: serial, thread pools, a process pool."""
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
    from multiprocessing import get_context

    from cnnlab.data import images
    from cnnlab.data.archive import open_container

    archive = data_dir / CIFAR_ARCHIVE
    if not archive.exists():
        return []
    with open_container(archive) as container:
        names = [m.name for m in container.members() if "/train/" in m.name][:n]
        items = [(i, name, data) for i, (name, data) in enumerate(container.iter_read(names))]
    chunks = [items[i : i + images.DECODE_CHUNK] for i in range(0, n, images.DECODE_CHUNK)]
    pools = {
        "thread": ThreadPoolExecutor,
        "process": lambda w: ProcessPoolExecutor(w, mp_context=get_context("forkserver")),
    }
    rows, default_pool = [], images._make_executor
    try:
        for kind, workers in [("thread", 1), ("thread", 2), ("thread", 3), ("process", 2)]:
            images._make_executor = pools[kind]  # benchmark-only swap of the pool kind
            decode = lambda w=workers: images.decode_many(  # noqa: E731
                chunks, n, channels=3, size=(32, 32), workers=w
            )[0]
            best = min((timed(decode) for _ in range(repeats)), key=lambda r: r[0])
            label = "serial" if workers == 1 else f"{kind} pool, {workers} workers"
            rows.append((f"decode {n} JPEGs in memory: {label}", *best))
    finally:
        images._make_executor = default_pool
    return rows


def mnist_cases(data_dir: Path) -> list[tuple]:
    """(case, seconds, result) for MNIST from its IDX gz files, if the IDX loader exists."""
    try:
        from cnnlab.data.idx import MNIST_CLASSES, load_idx_dataset
    except ImportError as e:
        print(f"skip MNIST: cnnlab.data.idx is not available yet ({e})", file=sys.stderr)
        return []
    if not (data_dir / "mnist").is_dir():
        print(f"skip MNIST: no {data_dir / 'mnist'}", file=sys.stderr)
        return []
    load = lambda: load_idx_dataset(data_dir / "mnist", "mnist", MNIST_CLASSES)  # noqa: E731
    return [("MNIST IDX gz", *timed(load))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $CNNLAB_DATA")
    parser.add_argument("--workers", type=int, default=None, help="decode threads (all cores)")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where scratch copies go")
    parser.add_argument(
        "--compare-pools", action="store_true", help="also time thread vs process decode pools"
    )
    args = parser.parse_args(argv)
    data_dir = args.data_dir or (
        Path(os.environ["CNNLAB_DATA"]) if "CNNLAB_DATA" in os.environ else None
    )
    if data_dir is None or not data_dir.is_dir():
        parser.error(f"no data folder: pass --data-dir or set CNNLAB_DATA (got {data_dir})")
    print(machine())
    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-", dir=args.tmp_dir) as scratch:
        rows = cifar_cases(data_dir, args.workers, Path(scratch)) + mnist_cases(data_dir)
    if args.compare_pools:
        rows += pool_cases(data_dir)
    width = max([len(row[0]) for row in rows] + [4])
    print(f"\n| {'case':<{width}} | {'seconds':>8} | {'images/s':>10} | shapes")
    print(f"|{'-' * (width + 2)}|{'-' * 9}:|{'-' * 11}:|-------")
    for case, seconds, result in rows:
        rate = count(result) / seconds if seconds > 0 else float("inf")
        print(f"| {case:<{width}} | {seconds:8.2f} | {rate:10,.0f} | {shapes(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
