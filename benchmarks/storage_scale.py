"""Training on an image folder larger than memory: data.storage mmap under a 1 GiB limit (#24).

Generates an image folder whose decoded size is at least twice the memory limit (224x224
RGB JPEGs: 150,528 bytes each decoded, so 2.2 GiB is about 15,700 images), then trains one
epoch of a small conv net on it in a child process twice:

- `mmap`: `data.storage=mmap` under the memory limit (decoding streams into the cache file,
  training reads each batch from the map);
- `memory`: the resident path without the limit, when this machine has the memory for it.

The limit is applied with the first of: `systemd-run --scope -p MemoryMax=...`, a child
cgroup (v2 `memory.max` or v1 `memory.limit_in_bytes`) when /sys/fs/cgroup is writable, or
RLIMIT_AS (a last resort: it also bounds address space, so a map larger than it fails); the
table says which. Peak RSS is the child's VmHWM (it counts the mapped file pages it touched,
which the kernel reclaims under the limit); images/s is training images over the epoch's
`epoch_seconds` (decoding not included). Prints a Markdown table.

    python benchmarks/storage_scale.py            # 2.2 GiB decoded under a 1 GiB limit
    python benchmarks/storage_scale.py --quick    # a few hundred small images: checks it runs
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

GIB = 2**30
CLASSES = 10
TEST_PER_CLASS = 20


def make_folder(root: Path, count: int, side: int, seed: int = 0) -> Path:
    """`root/{train,test}/<class>/<n>.jpg`: `count` training images, side x side RGB, each an
    upsampled 4x4 noise pattern around its class's colour (cheap to encode, learnable)."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(30, 226, (CLASSES, 3))
    per_class = {"train": -(-count // CLASSES), "test": TEST_PER_CLASS}
    for split, n in per_class.items():
        for k in range(CLASSES):
            folder = root / split / f"c{k}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                small = np.clip(colours[k] + rng.integers(-30, 31, (4, 4, 3)), 0, 255)
                image = Image.fromarray(small.astype(np.uint8)).resize((side, side))
                image.save(folder / f"{i:05d}.jpg", quality=80)
    return root


def can_systemd_scope() -> bool:
    """True when `systemd-run --scope` works here (a running systemd and its bus)."""
    if shutil.which("systemd-run") is None:
        return False
    probe = ["systemd-run", "--quiet", "--scope", "-p", "MemoryMax=1G", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def writable_cgroup(limit: int) -> tuple[Path, str] | None:
    """A new child cgroup of this process's, limited to `limit` bytes: (folder, how)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            parent, name, how = Path("/sys/fs/cgroup") / path.lstrip("/"), "memory.max", "v2"
        elif "memory" in controllers.split(","):
            parent = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            name, how = "memory.limit_in_bytes", "v1"
        else:
            continue
        child = parent / f"cnnlab-storage-{os.getpid()}"
        try:
            child.mkdir(exist_ok=True)
            (child / name).write_text(str(limit))
            return child, f"child cgroup ({how}: {child / name})"
        except OSError:
            if child.exists():
                child.rmdir()
    return None


def limiter(limit: int) -> tuple[list[str], object, str, Path | None]:
    """(command prefix, preexec function, description, cgroup folder to remove) for `limit`."""
    if can_systemd_scope():
        return (["systemd-run", "--quiet", "--scope", "-p", f"MemoryMax={limit}"], None,
                f"systemd-run --scope -p MemoryMax={limit}", None)  # fmt: skip
    found = writable_cgroup(limit)
    if found is not None:
        folder, how = found

        def join() -> None:  # in the child, before exec: everything it maps is charged there
            (folder / "cgroup.procs").write_text(str(os.getpid()))

        return [], join, how, folder

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return [], cap, f"RLIMIT_AS={limit} (prlimit --as; last resort)", None


def child(argv: list[str], report: Path) -> int:
    """Run `cnnlab` with `argv` in this process, then write its peak RSS (VmHWM) to `report`."""
    from cnnlab.cli import main

    code = main(argv)
    status = Path("/proc/self/status").read_text().splitlines()
    peak_kib = next(int(x.split()[1]) for x in status if x.startswith("VmHWM:"))
    report.write_text(json.dumps({"code": code, "peak_mib": peak_kib / 1024}))
    return code


def train_once(work: Path, folder: Path, storage: str, options: argparse.Namespace,
               prefix: list[str], preexec: object) -> dict:  # fmt: skip
    """One epoch in a child process; its peak RSS, images/s and the storage it said it used."""
    name = f"run-{storage}-{time.strftime('%H%M%S')}"
    argv = ["train", "--dataset", f"imagefolder:{folder}", "--model", "conv1", "--epochs", "1",
            "--device", options.device, "--out", str(work / "runs"), "--name", name,
            "--no-report", "--set", f"data.storage={storage}", "--set", "data.augment=flip",
            "--set", f"train.batch_size={options.batch_size}",
            "--set", "model.options={filters: 8}"]  # fmt: skip
    report = work / f"{name}.json"
    env = {**os.environ, "CNNLAB_CACHE": str(work / f"cache-{storage}")}
    command = [*prefix, sys.executable, __file__, "--child", str(report), "--", *argv]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, preexec_fn=preexec, capture_output=True, text=True)  # noqa: PLW1509
    wall = time.perf_counter() - started
    if done.returncode != 0 or not report.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"ok": False, "why": f"exit {done.returncode}: {' | '.join(tail)}", "wall": wall}
    run = work / "runs" / name
    with open(run / "metrics.csv", newline="", encoding="utf-8") as stream:
        seconds = float(list(csv.DictReader(stream))[-1]["epoch_seconds"])
    log = (run / "train.log").read_text(encoding="utf-8")
    train_images = int(log.split("data: train ", 1)[1].split(",", 1)[0])
    said = "mmap" if "memory-mapped from the disk cache" in log else "memory"
    peak = json.loads(report.read_text())["peak_mib"]
    return {"ok": True, "peak_mib": peak, "images_per_s": train_images / seconds,
            "epoch_s": seconds, "wall": wall, "said": said}  # fmt: skip


def row(label: str, limit: str, result: dict) -> str:
    if not result["ok"]:
        return f"| {label} | {limit} | failed: {result['why']} | | | |"
    return (f"| {label} | {limit} | {result['said']} | {result['peak_mib']:,.0f} | "
            f"{result['images_per_s']:,.0f} | {result['epoch_s']:.1f} / {result['wall']:.1f} |")  # fmt: skip


def available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few hundred 64x64 images")
    parser.add_argument("--limit-gib", type=float, default=1.0, help="memory limit of the mmap run")
    parser.add_argument("--ratio", type=float, default=2.2, help="decoded size over the limit")
    parser.add_argument("--side", type=int, default=224, help="image side in pixels")
    parser.add_argument("--batch-size", type=int, default=32)  # conv1's activations fit 1 GiB
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--work", type=Path, help="folder for the data, caches and runs")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    options, rest = parser.parse_known_args()
    if options.child is not None:
        sys.exit(child(rest[1:] if rest[:1] == ["--"] else rest, options.child))
    limit = int(options.limit_gib * GIB)
    side = 64 if options.quick else options.side
    per_image = 3 * side * side
    count = 600 if options.quick else int(np.ceil(options.ratio * limit / per_image))
    decoded = (count + CLASSES * TEST_PER_CLASS) * per_image
    work = options.work or Path(tempfile.mkdtemp(prefix="cnnlab-storage-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    folder = work / f"photos-{count}-{side}"
    made = "reused" if folder.exists() else "generated"
    if not folder.exists():  # a kept --work folder is generated once
        make_folder(folder, count, side)
    print(f"{made} {count:,} training images of {side}x{side} ({decoded / GIB:.2f} GiB "
          f"decoded) in {time.perf_counter() - started:.0f}s under {work}", flush=True)  # fmt: skip
    prefix, preexec, how, cgroup = limiter(limit)
    print(f"memory limit {options.limit_gib:g} GiB via {how}", flush=True)
    try:
        mapped = train_once(work, folder, "mmap", options, prefix, preexec)
    finally:
        if cgroup is not None:
            time.sleep(0.5)  # the child has left; an empty cgroup can be removed
            cgroup.rmdir()
    if available_bytes() > 3 * decoded:
        resident = train_once(work, folder, "memory", options, [], None)
    else:
        resident = {"ok": False, "why": f"needs {3 * decoded / GIB:.1f} GiB free"}
    print()
    print(f"{count:,} training images, {side}x{side} RGB, {decoded / GIB:.2f} GiB decoded; "
          f"conv1 (8 filters), batch {options.batch_size}, 1 epoch on {options.device}\n")  # fmt: skip
    print("| storage | memory limit | used | peak RSS (MiB) | images/s | epoch / wall (s) |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    print(row("mmap", f"{options.limit_gib:g} GiB ({how.split(' (')[0]})", mapped))
    print(row("memory", "none", resident))
    if mapped["ok"] and resident["ok"]:
        ratio = mapped["images_per_s"] / resident["images_per_s"]
        print(f"\nmmap / memory images/s: {ratio:.2f}x (target >= 0.8x)")
    if options.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
