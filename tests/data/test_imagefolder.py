"""load_imagefolder: both layouts in a folder, .zip and .tar.gz, defaults, cache, and bad input."""

from __future__ import annotations

import io
import os
import shutil
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.data import imagefolder, images
from cnnlab.data.configured import with_test_split
from cnnlab.data.imagefolder import load_imagefolder
from cnnlab.data.images import decode_image
from cnnlab.errors import DataFormatError, DatasetNotFoundError, UnsafeDataError

# name -> (Pillow mode, (H, W), format); mixed sizes, modes and formats on purpose.
SPLIT_LAYOUT = {
    "train/cat/01.png": ("RGB", (28, 28), "PNG"),
    "train/cat/02.png": ("L", (30, 40), "PNG"),
    "train/cat/03.png": ("RGBA", (64, 64), "PNG"),
    "train/dog/01.png": ("P", (28, 28), "PNG"),
    "train/dog/02.jpg": ("CMYK", (28, 28), "JPEG"),
    "train/dog/03.png": ("I;16", (40, 30), "PNG"),
    "train/dog/04.bmp": ("RGB", (28, 28), "BMP"),
    "val/cat/01.jpg": ("RGB", (28, 28), "JPEG"),
    "val/dog/01.png": ("LA", (20, 28), "PNG"),
    "test/dog/01.png": ("RGB", (64, 64), "PNG"),
}


def image_bytes(mode: str, size: tuple[int, int], fmt: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    H, W = size
    if mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65536, (H, W)).astype(np.uint16))
    else:
        img = Image.fromarray(rng.integers(0, 256, (H, W, 4), dtype=np.uint8), "RGBA")
        img = img.convert(mode) if mode not in ("P", "LA") else img.convert("RGB").convert(mode)
    buffer = io.BytesIO()
    img.save(buffer, fmt)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose IHDR is rewritten to claim width x height (a bomb's header)."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR body starts at byte 16
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # CRC of type + body
    return bytes(data)


def build(spec: dict, seed: int = 0) -> dict[str, bytes]:
    return {name: image_bytes(*spec[name], seed=seed + i) for i, name in enumerate(sorted(spec))}


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def write_archive(path: Path, files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> Path:
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as zf:
            for name in dirs:
                zf.writestr(name + "/", b"")
            for name, data in files.items():
                zf.writestr(name, data)
        return path
    with tarfile.open(path, "w:gz") as tf:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def make_source(tmp_path: Path, kind: str, files: dict[str, bytes]) -> Path:
    if kind == "dir":
        return write_folder(tmp_path / "images", files)
    return write_archive(tmp_path / f"images.{kind}", files)


def expected_split(files: dict, split: str, classes: tuple, **settings) -> tuple:
    """What the split must hold: decode_image of each file, in (class, name) order."""
    names = sorted((classes.index(n.split("/")[-2]), n) for n in files if n.startswith(split))
    images = [decode_image(files[n], source=n, **settings) for _, n in names]
    return np.stack(images), np.array([label for label, _ in names])


@pytest.mark.parametrize("kind", ["dir", "zip", "tar.gz"])
def test_split_layout_matches_decode_image_bit_for_bit(tmp_path, kind):
    files = build(SPLIT_LAYOUT)
    source = make_source(tmp_path, kind, files)
    dataset = load_imagefolder(source, channels=3, size=(28, 28), cache_dir=None, workers=1)
    assert dataset.name == "images"
    assert dataset.class_names == ("cat", "dog")
    assert set(dataset.splits) == {"train", "val", "test"}
    for split in ("train", "val", "test"):
        images, labels = expected_split(
            files, split, dataset.class_names, channels=3, size=(28, 28), resize="crop"
        )
        np.testing.assert_array_equal(dataset.split(split).images, images)
        np.testing.assert_array_equal(dataset.split(split).labels, labels)
    assert dataset.problems == ()


def test_defaults_come_from_the_headers(tmp_path):
    files = build(SPLIT_LAYOUT)
    dataset = load_imagefolder(write_folder(tmp_path / "mixed", files), cache_dir=None, workers=1)
    assert dataset.split("train").image_shape == (3, 28, 28)  # colour present; 28x28 most common
    gray = build({f"train/{c}/{i}.png": ("L", (12, 10) if i else (8, 8), "PNG")
                  for c in "ab" for i in range(3)})  # fmt: skip
    gray["train/b/x.png"] = image_bytes("I;16", (12, 10), "PNG", seed=9)
    dataset = load_imagefolder(write_folder(tmp_path / "gray", gray), cache_dir=None, workers=1)
    assert dataset.split("train").image_shape == (1, 12, 10)
    images, _ = expected_split(gray, "train", ("a", "b"), channels=1, size=(12, 10))
    np.testing.assert_array_equal(dataset.split("train").images, images)


def test_default_size_comes_from_train_only(tmp_path):
    spec = {f"train/a/{i}.png": ("RGB", (10, 10) if i < 3 else (12, 12), "PNG") for i in range(4)}
    spec |= {f"{s}/a/{i}.png": ("RGB", (12, 12), "PNG") for s in ("test", "val") for i in range(5)}
    dataset = load_imagefolder(write_folder(tmp_path / "d", build(spec)), cache_dir=None, workers=1)
    assert [dataset.split(s).image_shape for s in ("train", "val", "test")] == [(3, 10, 10)] * 3


@pytest.mark.parametrize("storage", ["memory", "mmap"])
def test_a_bad_guess_from_the_sample_is_corrected(tmp_path, monkeypatch, storage):
    monkeypatch.setattr(imagefolder, "_SAMPLE_HEADERS", 1)  # sees only one gray 8x8 image
    files = build({"train/a/0.png": ("L", (8, 8), "PNG"), "train/b/1.png": ("RGB", (9, 9), "PNG"),
                   "train/b/2.png": ("RGB", (9, 9), "PNG")})  # fmt: skip
    dataset = load_imagefolder(
        write_folder(tmp_path / "d", files), cache_dir=tmp_path / "cache", workers=1,
        storage=storage,
    )  # fmt: skip
    assert dataset.split("train").mapped == (storage == "mmap")  # decoded twice, mapped once
    images, _ = expected_split(files, "train", ("a", "b"), channels=3, size=(9, 9))
    np.testing.assert_array_equal(dataset.split("train").images, images)


def test_parallel_decode_equals_serial(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "DECODE_CHUNK", 2)  # several chunks from 10 images
    monkeypatch.setattr(imagefolder, "DECODE_CHUNK", 2)
    source = make_source(tmp_path, "tar.gz", build(SPLIT_LAYOUT))
    serial = load_imagefolder(source, size=(20, 24), resize="pad", cache_dir=None, workers=1)
    parallel = load_imagefolder(source, size=(20, 24), resize="pad", cache_dir=None, workers=2)
    for split in serial.splits:
        np.testing.assert_array_equal(serial.split(split).images, parallel.split(split).images)
        np.testing.assert_array_equal(serial.split(split).labels, parallel.split(split).labels)


def test_single_top_folder_is_descended_and_aliases_and_readme_accepted(tmp_path):
    files = {f"mydata/{n.replace('val/', 'valid/')}": d for n, d in build(SPLIT_LAYOUT).items()}
    files["mydata/README.md"] = b"about"
    files["LICENSE"] = b"text"
    source = write_archive(tmp_path / "mydata.zip", files)
    dataset = load_imagefolder(source, channels=1, size=(16, 16), cache_dir=None, workers=1)
    assert dataset.name == "mydata"
    assert {s: len(d) for s, d in dataset.splits.items()} == {"train": 7, "val": 2, "test": 1}


CLASS_ONLY = {f"{c}/{i:02d}.png": ("RGB", (8, 8), "PNG") for c, n in [("a", 10), ("b", 5)]
              for i in range(n)}  # fmt: skip


def test_class_only_layout_is_all_train_and_held_out_by_seed_in_the_experiment(tmp_path):
    files = build(CLASS_ONLY)
    source = make_source(tmp_path, "zip", files)
    read = load_imagefolder(source, cache_dir=None, workers=1)
    assert read.class_names == ("a", "b") and list(read.splits) == ["train"]
    first, again, other = (with_test_split(read, seed) for seed in (3, 3, 4))
    assert np.bincount(first.split("train").labels).tolist() == [8, 4]
    assert np.bincount(first.split("test").labels).tolist() == [2, 1]
    for split in ("train", "test"):
        np.testing.assert_array_equal(first.split(split).images, again.split(split).images)
    assert not np.array_equal(first.split("test").images, other.split("test").images)
    everything = np.concatenate([first.split("train").images, first.split("test").images])
    expected = [decode_image(d, source=n, channels=3, size=(8, 8)) for n, d in files.items()]
    assert sorted(map(bytes, everything)) == sorted(map(bytes, expected))  # a partition


def test_cache_is_reused_and_invalidated(tmp_path, monkeypatch):
    source = write_folder(tmp_path / "d", build(SPLIT_LAYOUT))
    cache = tmp_path / "cache"
    calls = []
    decode = imagefolder._decode_layout
    counted = lambda *args, **kwargs: calls.append(1) or decode(*args, **kwargs)  # noqa: E731
    monkeypatch.setattr(imagefolder, "_decode_layout", counted)

    first = load_imagefolder(source, size=(16, 16), cache_dir=cache, workers=1)
    entries = list((cache / "imagefolder").iterdir())
    assert len(calls) == 1 and len(entries) == 1
    assert {p.name for p in entries[0].iterdir()} >= {"meta.json", "train_images.npy"}
    second = load_imagefolder(source, size=(16, 16), cache_dir=cache, workers=1)
    assert len(calls) == 1  # served from the cache
    for split in first.splits:
        np.testing.assert_array_equal(first.split(split).images, second.split(split).images)
        np.testing.assert_array_equal(first.split(split).labels, second.split(split).labels)
    assert second.class_names == first.class_names

    load_imagefolder(source, size=(12, 12), cache_dir=cache, workers=1)  # other settings
    assert len(calls) == 2
    touched = source / "train/cat/01.png"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    load_imagefolder(source, size=(16, 16), cache_dir=cache, workers=1)
    assert len(calls) == 3
    (source / "train/cat/09.png").write_bytes(image_bytes("RGB", (16, 16), "PNG", seed=1))
    again = load_imagefolder(source, size=(16, 16), cache_dir=cache, workers=1)
    assert len(calls) == 4 and len(again.split("train")) == 8


def write_stored_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def test_archive_cache_hit_skips_listing_and_notices_a_same_size_rewrite(tmp_path, monkeypatch):
    files = build(SPLIT_LAYOUT)
    noise = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
    filler = io.BytesIO()
    Image.fromarray(noise).save(filler, "PNG")  # ~77 KB, so the edited image is mid-archive
    files = {"test/dog/00.png": filler.getvalue(), **files, "val/dog/99.png": filler.getvalue()}
    archive = write_stored_zip(tmp_path / "d.zip", files)
    cache = tmp_path / "cache"
    first = load_imagefolder(archive, size=(16, 16), cache_dir=cache, workers=1)

    def no_opening(path):
        raise AssertionError(f"a cache hit opened {path}")

    with monkeypatch.context() as patch:
        patch.setattr(imagefolder, "open_container", no_opening)
        hit = load_imagefolder(archive, size=(16, 16), cache_dir=cache, workers=1)
    np.testing.assert_array_equal(hit.split("train").images, first.split("train").images)

    stat = archive.stat()
    edited = bytearray(files["train/cat/01.png"])
    edited[60] ^= 0xFF  # inside the IDAT data: same length, broken PNG checksum
    write_stored_zip(archive, {**files, "train/cat/01.png": bytes(edited)})
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime
    assert archive.stat().st_size == stat.st_size
    with pytest.raises(DataFormatError, match=r"train/cat/01\.png"):  # decoded again, not cached
        load_imagefolder(archive, size=(16, 16), cache_dir=cache, workers=1)


@pytest.mark.parametrize("damage", ["images", "meta", "missing", "a-file"])
def test_a_damaged_cache_entry_is_rebuilt(tmp_path, damage):
    source = make_source(tmp_path, "zip", build(SPLIT_LAYOUT))
    cache = tmp_path / "cache"
    first = load_imagefolder(source, size=(16, 16), cache_dir=cache, workers=1)
    (entry,) = (cache / "imagefolder").iterdir()
    if damage == "images":
        (entry / "train_images.npy").write_bytes(b"\x93NUMPY garbage")
    elif damage == "meta":
        (entry / "meta.json").write_text("{not json")
    elif damage == "missing":
        (entry / "val_labels.npy").unlink()
    else:
        shutil.rmtree(entry)
        entry.write_bytes(b"not a folder")
    rebuilt = load_imagefolder(source, size=(16, 16), cache_dir=cache, workers=1)
    np.testing.assert_array_equal(rebuilt.split("train").images, first.split("train").images)
    cached = load_imagefolder(source, size=(16, 16), cache_dir=cache, workers=1)
    np.testing.assert_array_equal(cached.split("val").labels, first.split("val").labels)


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nothing-here"):
        load_imagefolder(tmp_path / "nothing-here", cache_dir=None)


@pytest.mark.parametrize("kind", ["dir", "zip", "tar.gz"])
def test_empty_class_folder_is_named(tmp_path, kind):
    files = build(SPLIT_LAYOUT)
    if kind == "dir":
        source = write_folder(tmp_path / "d", files)
        (source / "train" / "bird").mkdir()
    else:
        source = write_archive(tmp_path / f"d.{kind}", files, dirs=("train/bird",))
    with pytest.raises(DataFormatError, match=r"train/bird.*empty class folder"):
        load_imagefolder(source, cache_dir=None, workers=1)


def test_corrupt_jpeg_names_the_file_and_skip_bad_loads_the_rest(tmp_path):
    files = build(SPLIT_LAYOUT)
    jpeg = files["train/dog/02.jpg"]
    files["train/dog/02.jpg"] = jpeg[: len(jpeg) // 2]
    source = make_source(tmp_path, "tar.gz", files)
    with pytest.raises(DataFormatError, match=r"'train/dog/02\.jpg' in .*\.tar\.gz.*skip_bad"):
        load_imagefolder(source, size=(28, 28), cache_dir=None, workers=1)
    dataset = load_imagefolder(source, size=(28, 28), skip_bad=True, cache_dir=None, workers=1)
    assert len(dataset.problems) == 1 and "train/dog/02.jpg" in dataset.problems[0]
    del files["train/dog/02.jpg"]
    images, labels = expected_split(files, "train", ("cat", "dog"), channels=3, size=(28, 28))
    np.testing.assert_array_equal(dataset.split("train").images, images)
    np.testing.assert_array_equal(dataset.split("train").labels, labels)


def test_zero_byte_and_bomb_files(tmp_path):
    files = build(SPLIT_LAYOUT)
    files["train/cat/empty.png"] = b""
    source = write_folder(tmp_path / "d", files)
    with pytest.raises(DataFormatError, match=r"train/cat/empty\.png as an image: .*empty"):
        load_imagefolder(source, cache_dir=None, workers=1)
    (source / "train/cat/empty.png").unlink()
    (source / "train/dog/bomb.png").write_bytes(png_claiming(20_000, 10_000))
    with pytest.raises(DataFormatError, match=r"train/dog/bomb\.png.*20000x10000"):
        load_imagefolder(source, size=(28, 28), cache_dir=None, workers=1)
    dataset = load_imagefolder(source, size=(28, 28), skip_bad=True, cache_dir=None, workers=1)
    assert len(dataset.problems) == 1 and "decompression bomb" in dataset.problems[0]


@pytest.mark.parametrize(
    "extra,message",
    [
        ({"train/cat/notes.txt": b"x"}, r"train/cat/notes\.txt.*not an image.*\.jpg"),
        ({"train/stray.png": b"x"}, r"train/stray\.png.*outside any class folder"),
        ({"test/bird/01.png": None}, r"test/bird.*'bird' is not among the train classes"),
        ({"extra/cat/01.png": None}, r"extra is not a split folder"),
        ({"data.bin": b"x"}, r"data\.bin.*outside any class folder"),
    ],
)
def test_layout_errors_name_the_culprit(tmp_path, extra, message):
    files = build(SPLIT_LAYOUT)
    for name, data in extra.items():
        files[name] = data if data is not None else image_bytes("RGB", (8, 8), "PNG", seed=5)
    with pytest.raises(DataFormatError, match=message):
        load_imagefolder(write_folder(tmp_path / "d", files), cache_dir=None, workers=1)


def test_no_classes_and_no_train(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match=r"no class folders found; expected <split>"):
        load_imagefolder(tmp_path / "empty", cache_dir=None)
    files = {n.replace("train/", "test/"): d for n, d in build(SPLIT_LAYOUT).items()
             if n.startswith("train/")}  # fmt: skip
    with pytest.raises(DataFormatError, match=r"found \['test'\] but no train/ folder"):
        load_imagefolder(write_folder(tmp_path / "t", files), cache_dir=None)


def test_unsafe_archives_are_refused(tmp_path):
    files = build(SPLIT_LAYOUT)
    slip = write_archive(
        tmp_path / "slip.zip", {**files, "../../evil.png": files["test/dog/01.png"]}
    )
    with pytest.raises(UnsafeDataError, match=r"slip\.zip: entry '\.\./\.\./evil\.png'"):
        load_imagefolder(slip, cache_dir=None)
    linked = tmp_path / "link.tar.gz"
    with tarfile.open(linked, "w:gz") as tf:
        info = tarfile.TarInfo("train/cat/link.png")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(UnsafeDataError, match=r"link\.tar\.gz: entry 'train/cat/link\.png'"):
        load_imagefolder(linked, cache_dir=None)
