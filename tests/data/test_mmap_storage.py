"""data.storage mmap: image folders decoded once into a memory-mapped cache file give the
resident path's batches, metrics and resumes exactly; auto maps what passes the memory (#24)."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.cli import main
from cnnlab.config import load_experiments
from cnnlab.data import imagefolder, load_dataset, storage
from cnnlab.data.imagefolder import load_imagefolder
from cnnlab.data.loader import BatchLoader
from cnnlab.data.mapped import MappedImages
from cnnlab.data.profile import profile_dataset
from cnnlab.data.subset import SubsetSpec, apply_subset
from cnnlab.errors import ConfigError, DataTooLargeError
from cnnlab.experiment.engine import resume, train
from cnnlab.training import load_checkpoint
from cnnlab.training import loop as loop_module

CLASSES = ("ant", "bee", "cat")


def png_folder(root: Path, per_class: dict[str, int], seed: int = 0) -> Path:
    """`root/<split>/<class>/<n>.png`: 12x12 RGB noise around a colour per class."""
    rng = np.random.default_rng(seed)
    for split, count in per_class.items():
        for k, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for n in range(count):
                pixels = np.clip(60 * k + 40 + rng.integers(-40, 41, (12, 12, 3)), 0, 255)
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{n:02d}.png")
    return root


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    return png_folder(tmp_path / "photos", {"train": 12, "test": 4})


def both(folder: Path, cache: Path, **options) -> tuple:
    """The folder loaded resident and mapped."""
    resident = load_imagefolder(folder, cache_dir=cache, workers=1, storage="memory", **options)
    mapped = load_imagefolder(folder, cache_dir=cache, workers=1, storage="mmap", **options)
    return resident, mapped


def batches(split, epoch: int, **options) -> list[tuple[torch.Tensor, torch.Tensor]]:
    loader = BatchLoader(split, batch_size=5, shuffle=True, seed=3, augment="crop2,flip", **options)
    loader.set_epoch(epoch)
    return list(loader)


def assert_same_batches(first: list, second: list) -> None:
    assert len(first) == len(second) > 1
    for (x, y), (u, v) in zip(first, second, strict=True):
        assert torch.equal(x, u) and torch.equal(y, v)


def test_mapped_batches_are_the_resident_ones_bit_for_bit(folder, tmp_path):
    resident, mapped = both(folder, tmp_path / "cache")
    train = mapped.split("train")
    assert train.mapped and isinstance(train.images, MappedImages)
    assert not resident.split("train").mapped
    assert np.array_equal(train.images[np.arange(len(train))], resident.split("train").images)
    assert profile_dataset(mapped) == profile_dataset(resident)  # read in chunks, never whole
    for epoch in (0, 1):
        assert_same_batches(
            batches(resident.split("train"), epoch), batches(mapped.split("train"), epoch)
        )
    balanced = {"sampler": "balanced", "drop_last": True}
    assert_same_batches(
        batches(resident.split("train"), 2, **balanced), batches(train, 2, **balanced)
    )
    # a validation split and a per-class subset stay views of the file, and still agree
    spec = SubsetSpec(val=6, per_class=6, seed=1)
    sub_resident, sub_mapped = apply_subset(resident, spec), apply_subset(mapped, spec)
    assert sub_mapped.split("train").mapped and sub_mapped.split("val").mapped
    for split in ("train", "val"):
        assert_same_batches(
            batches(sub_resident.split(split), 0), batches(sub_mapped.split(split), 0)
        )


def test_a_reader_error_reaches_the_training_thread(folder, tmp_path):
    _, mapped = both(folder, tmp_path / "cache")
    train = mapped.split("train")
    broken = MappedImages(train.images.base, train.images.rows + 10**6)  # rows beyond the file
    loader = BatchLoader(type(train)(broken, train.labels), batch_size=4, shuffle=False)
    with pytest.raises(IndexError):
        list(loader)


def run_metrics(out: Path, name: str) -> dict:
    metrics = json.loads((out / name / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if "seconds" not in k}


def test_one_epoch_mapped_gives_the_metrics_of_one_epoch_in_memory(folder, tmp_path, capsys):
    out = tmp_path / "runs"
    for storage_name in ("memory", "mmap"):
        code = main(["train", "--dataset", f"imagefolder:{folder}", "--model", "conv1",
                     "--epochs", "1", "--set", "data.augment=crop2,flip", "--set",
                     f"data.storage={storage_name}", "--set", "train.batch_size=8",
                     "--out", str(out), "--name", storage_name, "--device", "cpu",
                     "--no-report"])  # fmt: skip
        assert code == 0
    assert run_metrics(out, "mmap") == run_metrics(out, "memory")
    assert "data.storage mmap; images read from" in capsys.readouterr().err
    assert "images memory-mapped from the disk cache" in (out / "mmap" / "train.log").read_text()
    assert "images in memory" in (out / "memory" / "train.log").read_text()


def untimed_rows(path: Path) -> list[dict]:
    """A run's CSV rows without the columns that hold wall-clock times."""
    with open(path, newline="", encoding="utf-8") as stream:
        return [{k: v for k, v in r.items() if "seconds" not in k} for r in csv.DictReader(stream)]


def signal_at_step(monkeypatch, step: int) -> None:
    """The `step`-th training step (1-based, over the run) sends this process SIGTERM first."""
    real_step = loop_module.train_step
    calls = {"n": 0}

    def step_then_signal(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == step:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop_module, "train_step", step_then_signal)


def test_a_mapped_run_stopped_mid_epoch_resumes_to_the_uninterrupted_run(
    folder, tmp_path, monkeypatch
):
    def config(name: str):
        overrides = [
            f"data.dataset=imagefolder:{folder}",
            "data.storage=mmap",
            "data.val=4",
            "data.augment=crop2,flip",
            "model.name=mlp",
            "model.options={hidden: [16], dropout: 0.3, batch_norm: true}",
            "train.epochs=2",
            "train.batch_size=8",
            "train.device=cpu",
            "train.threads=1",
            f"out={tmp_path}",
            f"name={name}",
        ]  # fmt: skip  (32 training images: 4 batches per epoch)
        return load_experiments(None, overrides)[0]

    whole = train(config("whole"), quiet=True, report=False)
    signal_at_step(monkeypatch, 6)  # the second batch of epoch 2
    with pytest.raises(KeyboardInterrupt, match="interrupted by SIGTERM"):
        train(config("cut"), quiet=True, report=False)
    monkeypatch.undo()
    cut = tmp_path / "cut"
    assert load_checkpoint(cut / "last.pt")["history"]["partial_epoch"]["batch"] == 2
    resume(cut, quiet=True, report=False)
    for name in ("metrics.csv", "iterations.csv"):
        assert untimed_rows(cut / name) == untimed_rows(whole.run_dir / name), name
    ours, theirs = (load_checkpoint(d / "last.pt")["model"] for d in (cut, whole.run_dir))
    assert all(torch.equal(ours[key], theirs[key]) for key in theirs)
    assert run_metrics(tmp_path, "cut") == run_metrics(tmp_path, "whole")


def test_auto_maps_what_passes_the_memory_this_process_may_use(folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    small = storage.MemoryLimit(2_000, "a test limit")  # bytes: the 48 images take 20,736
    monkeypatch.setattr(storage, "memory_limit", lambda: small)
    mapped = load_imagefolder(folder, cache_dir=cache, workers=1, storage="auto")
    assert mapped.split("train").mapped and mapped.split("test").mapped
    (note,) = mapped.notes
    assert "data.storage auto: memory-mapped" in note and "a test limit" in note
    assert "20.2 KiB" in note and str(cache) in note
    monkeypatch.setattr(storage, "memory_limit", lambda: storage.MemoryLimit(2**40, "plenty"))
    resident = load_imagefolder(folder, cache_dir=cache, workers=1, storage="auto")
    assert not resident.split("train").mapped and not resident.notes
    # beyond data.max_gib (what goes into RAM) auto maps too, instead of refusing
    capped = load_imagefolder(folder, cache_dir=cache, workers=1, storage="auto", max_bytes=1000)
    assert capped.split("train").mapped and "data.max_gib" in capped.notes[0]


def test_the_limit_comes_from_the_cgroup_or_the_available_memory(tmp_path):
    proc = tmp_path / "cgroup"
    proc.write_text("0::/user.slice/job.scope\n")
    root = tmp_path / "sys"
    (root / "user.slice" / "job.scope").mkdir(parents=True)
    (root / "user.slice" / "job.scope" / "memory.max").write_text("max\n")
    (root / "user.slice" / "memory.max").write_text(f"{2**30}\n")
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 99999999 kB\nMemAvailable: 8388608 kB\n")
    limit = storage.memory_limit(proc, root, meminfo)
    assert limit.bytes == 2**30 and "user.slice/memory.max" in limit.source
    (root / "user.slice" / "memory.max").write_text("max\n")
    limit = storage.memory_limit(proc, root, meminfo)
    assert limit.bytes == 8 * 2**30 and "MemAvailable" in limit.source
    # cgroup v1: the memory controller's own hierarchy, "no limit" written as a huge number
    proc.write_text("4:memory:/jobs/one\n0::/\n")
    (root / "memory" / "jobs" / "one").mkdir(parents=True)
    (root / "memory" / "jobs" / "one" / "memory.limit_in_bytes").write_text(f"{3 * 2**30}\n")
    (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    limit = storage.memory_limit(proc, root, meminfo)
    assert limit.bytes == 3 * 2**30 and "jobs/one/memory.limit_in_bytes" in limit.source


def test_the_cache_is_reused_and_rebuilt_when_a_file_changes(folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    calls = []
    decode = imagefolder._decode_layout
    counted = lambda *args, **kwargs: calls.append(1) or decode(*args, **kwargs)  # noqa: E731
    monkeypatch.setattr(imagefolder, "_decode_layout", counted)
    first = load_imagefolder(folder, cache_dir=cache, workers=1, storage="mmap")
    again = load_imagefolder(folder, cache_dir=cache, workers=1, storage="mmap")
    assert len(calls) == 1  # the second load maps the file the first wrote
    assert again.split("train").images.base.filename == first.split("train").images.base.filename
    changed = folder / "train" / "bee" / "03.png"
    Image.new("RGB", (12, 12), (255, 0, 255)).save(changed)
    stamp = changed.stat()
    os.utime(changed, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 10**9))
    rebuilt = load_imagefolder(folder, cache_dir=cache, workers=1, storage="mmap")
    assert len(calls) == 2
    position = 12 + 3  # the bee class starts after the 12 ants
    assert (rebuilt.split("train").images[position] == np.array([255, 0, 255])[:, None, None]).all()
    assert not (first.split("train").images[position] == 255).all()


def test_a_mapped_cache_the_disk_cannot_hold_is_refused_before_decoding(
    folder, tmp_path, monkeypatch
):
    monkeypatch.setattr(storage.shutil, "disk_usage", lambda path: type("U", (), {"free": 5000}))
    with pytest.raises(DataTooLargeError, match=r"would take 20.2 KiB in the disk cache .* has "):
        load_imagefolder(folder, cache_dir=tmp_path / "cache", workers=1, storage="mmap")
    assert not list((tmp_path / "cache").rglob("*.npy"))


def test_mmap_is_for_image_folders_only(tmp_path):
    with pytest.raises(ConfigError, match="only image folders can be memory-mapped"):
        load_dataset("mnist-sample", offline=True, storage="mmap")


def test_the_numpy_engine_refuses_mmap_and_keeps_auto_in_memory(folder, tmp_path):
    from cnnlab.experiment import scratch_run

    overrides = [f"data.dataset=imagefolder:{folder}", "model.name=scratch:fc",
                 "train.epochs=1", f"out={tmp_path}"]  # fmt: skip
    config = load_experiments(None, [*overrides, "data.storage=mmap"])[0]
    with pytest.raises(ConfigError, match="the NumPy engine .* holds its images in memory"):
        scratch_run.train(config, quiet=True, report=False)
    assert scratch_run._in_memory(load_experiments(None, overrides)[0]).storage == "memory"


def test_skipped_images_leave_no_rows_in_the_map(folder, tmp_path):
    (folder / "train" / "bee" / "05.png").write_bytes(b"not a png")
    resident, mapped = both(folder, tmp_path / "cache", skip_bad=True)
    assert mapped.problems == resident.problems and len(mapped.problems) == 1
    for split in ("train", "test"):
        assert mapped.split(split).mapped
        assert np.array_equal(np.asarray(mapped.split(split).images), resident.split(split).images)
        assert np.array_equal(mapped.split(split).labels, resident.split(split).labels)


def test_rows_of_a_mapped_file_are_read_by_pread_exactly(tmp_path, monkeypatch):
    from cnnlab.data import mapped as mapped_module

    images = np.random.default_rng(5).integers(0, 256, (50, 3, 4, 5), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    base = np.load(tmp_path / "images.npy", mmap_mode="r", allow_pickle=False)
    assert mapped_module._whole_file(base) == (str(tmp_path / "images.npy"), base.offset)
    assert mapped_module._whole_file(base[10:]) is None  # a view: read through the map
    rows = np.array([7, 49, 0, 7, -1, 23])
    reads = []
    real = os.preadv
    monkeypatch.setattr(os, "preadv", lambda *a: reads.append(a[2]) or real(*a))
    assert np.array_equal(mapped_module.gather(base, rows), images[rows])
    assert len(reads) == len(rows)
    assert np.array_equal(MappedImages(base).take(np.array([3, 1]))[np.array([1, 0])],
                          images[[1, 3]])  # fmt: skip
    with pytest.raises(IndexError, match="row 50 is out of bounds for 50"):
        mapped_module.gather(base, np.array([1, 50]))
