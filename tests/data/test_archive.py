"""Containers over folders, zips and tars; refusal of unsafe entries; safe extraction."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from cnnlab.data import archive as archive_module
from cnnlab.data.archive import extract_safely, open_container
from cnnlab.errors import DataFormatError, DatasetNotFoundError, UnsafeDataError

FILES = {
    "train/cat/a.png": b"cat-a",
    "train/dog/b.png": b"dog-bb",
    "README.md": b"hello",
}
HIDDEN = {".DS_Store": b"x", "train/.hidden.png": b"x", "__MACOSX/train/._a.png": b"x"}


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def make_zip(path: Path, files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name in dirs:
            zf.writestr(name.rstrip("/") + "/", b"")
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def tar_entry(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mtime = kind, link, len(data), 1_600_000_000
    return info, io.BytesIO(data) if kind == tarfile.REGTYPE else None


def make_tar(path: Path, entries: list[tuple], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, stream in entries:
            tf.addfile(info, stream)
    return path


def plain_tar(path: Path, files: dict[str, bytes], mode: str = "w:gz") -> Path:
    return make_tar(path, [tar_entry(n, d) for n, d in files.items()], mode)


@pytest.fixture(params=["dir", "zip", "tar", "tar.gz", "tar.bz2", "tar.xz"])
def container_path(request, tmp_path) -> Path:
    files = {**FILES, **HIDDEN}
    if request.param == "dir":
        return write_tree(tmp_path / "data", files)
    if request.param == "zip":
        return make_zip(tmp_path / "data.zip", files, dirs=("train/empty",))
    mode = {"tar": "w", "tar.gz": "w:gz", "tar.bz2": "w:bz2", "tar.xz": "w:xz"}[request.param]
    return plain_tar(tmp_path / f"data.{request.param}", files, mode)


def test_members_are_regular_visible_files_with_sizes(container_path):
    with open_container(container_path) as container:
        members = {m.name: m for m in container.members()}
        assert sorted(members) == sorted(FILES)
        for name, data in FILES.items():
            assert members[name].size == len(data)
            assert members[name].mtime > 0
            assert container.read(name) == data
        names = list(FILES)[::-1]
        assert dict(container.iter_read(names)) == FILES
        assert name in container.describe(name)


def test_directory_entries_are_listed(tmp_path):
    (tmp_path / "d" / "train" / "empty").mkdir(parents=True)
    with open_container(tmp_path / "d") as container:
        assert container.directories() == ["train", "train/empty"]
    zipped = make_zip(tmp_path / "d.zip", {"a/b.png": b"1"}, dirs=("a/empty",))
    with open_container(zipped) as container:
        assert container.directories() == ["a/empty"]


@pytest.mark.parametrize(
    "name,why",
    [
        ("../evil.png", r"'\.\.'"),
        ("train/../../evil.png", r"'\.\.'"),
        ("/etc/evil.png", "absolute"),
        ("C:/evil.png", "absolute"),
        ("..\\evil.png", r"'\.\.'"),
    ],
)
def test_zip_slip_entries_are_refused(tmp_path, name, why):
    archive = make_zip(tmp_path / "slip.zip", {"train/cat/a.png": b"1", name: b"evil"})
    with pytest.raises(UnsafeDataError, match=rf"slip\.zip: entry .*{why}"):
        open_container(archive)


def test_zip_symlink_entry_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("train/cat/link.png")
        info.create_system = 3  # unix, so external_attr holds st_mode
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeDataError, match=r"link\.zip: entry 'train/cat/link\.png' is a sym"):
        open_container(archive)


@pytest.mark.parametrize(
    "entry,why",
    [
        (tar_entry("../evil.png", b"x"), r"'\.\.'"),
        (tar_entry("/abs/evil.png", b"x"), "absolute"),
        (tar_entry("train/cat/s.png", kind=tarfile.SYMTYPE, link="/etc/passwd"), "is a link"),
        (tar_entry("train/cat/h.png", kind=tarfile.LNKTYPE, link="train/cat/a.png"), "is a link"),
        (tar_entry("train/cat/dev", kind=tarfile.CHRTYPE), "device or fifo"),
        (tar_entry("train/cat/fifo", kind=tarfile.FIFOTYPE), "device or fifo"),
    ],
    ids=["dotdot", "absolute", "symlink", "hardlink", "chardev", "fifo"],
)
def test_unsafe_tar_entries_are_refused(tmp_path, entry, why):
    archive = make_tar(tmp_path / "bad.tar.gz", [tar_entry("train/cat/a.png", b"ok"), entry])
    with pytest.raises(UnsafeDataError, match=rf"bad\.tar\.gz: entry .*{why}"):
        open_container(archive)


def test_directory_symlinks_inside_are_followed_outside_refused(tmp_path):
    root = write_tree(tmp_path / "data", {"train/cat/a.png": b"1", "extra/d.png": b"2"})
    (root / "train" / "cat" / "alias.png").symlink_to(root / "train" / "cat" / "a.png")
    (root / "train" / "dog").symlink_to(root / "extra")
    (root / "train" / "loop").symlink_to(root / "train")  # a loop must not hang the walk
    with open_container(root) as container:
        names = [m.name for m in container.members()]
        assert names == ["extra/d.png", "train/cat/a.png", "train/cat/alias.png", "train/dog/d.png"]
        assert container.read("train/cat/alias.png") == b"1"
    outside = write_tree(tmp_path / "outside", {"secret.png": b"s"})
    (root / "train" / "cat" / "leak.png").symlink_to(outside / "secret.png")
    with pytest.raises(UnsafeDataError, match=r"symlink 'train/cat/leak\.png' points outside"):
        open_container(root)


def test_missing_path_and_non_archives(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"nowhere.*does not exist"):
        open_container(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("just text")
    with pytest.raises(DataFormatError, match=r"notes\.txt is neither a folder nor a readable"):
        open_container(tmp_path / "notes.txt")


def test_corrupt_archives_are_named(tmp_path):
    files = {f"train/c/{i}.png": os.urandom(4000) for i in range(5)}
    good = plain_tar(tmp_path / "good.tar.gz", files)
    (tmp_path / "cut.tar.gz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataFormatError, match=r"cut\.tar\.gz is a corrupt or truncated archive"):
        open_container(tmp_path / "cut.tar.gz")
    zipped = make_zip(tmp_path / "good.zip", {"train/c/a.png": b"1" * 100})
    (tmp_path / "cut.zip").write_bytes(zipped.read_bytes()[:60])
    with pytest.raises(DataFormatError, match=r"cut\.zip is a corrupt or truncated archive"):
        open_container(tmp_path / "cut.zip")


def test_truncated_plain_tar_is_named(tmp_path):
    files = {f"train/c/{i}.png": os.urandom(3000) for i in range(3)}
    good = plain_tar(tmp_path / "good.tar", files, mode="w")
    (tmp_path / "cut.tar").write_bytes(good.read_bytes()[: 512 + 1000])  # inside member 1
    with pytest.raises(DataFormatError, match=r"cut\.tar is a corrupt or truncated archive"):
        open_container(tmp_path / "cut.tar")


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_tar_members_beyond_the_preload_budget_are_read_lazily(tmp_path, monkeypatch, mode):
    monkeypatch.setattr(archive_module, "PRELOAD_BYTES", 6)  # keeps only "cat-a" (5 bytes)
    path = plain_tar(tmp_path / "t.tar", FILES, mode=mode)
    with open_container(path) as container:
        assert dict(container.iter_read(FILES)) == FILES
        assert container.read("train/cat/a.png") == FILES["train/cat/a.png"]


def test_corrupt_zip_member_is_named_on_read(tmp_path):
    archive = tmp_path / "crc.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("train/c/a.png", b"A" * 64)
    raw = archive.read_bytes().replace(b"A" * 64, b"B" + b"A" * 63)  # CRC no longer matches
    archive.write_bytes(raw)
    with open_container(archive) as container:
        with pytest.raises(DataFormatError, match=r"cannot read 'train/c/a\.png' in .*crc\.zip"):
            container.read("train/c/a.png")


def test_duplicate_entries_are_refused(tmp_path):
    entries = [tar_entry("a/b.png", b"1"), tar_entry("a/b.png", b"2")]
    archive = make_tar(tmp_path / "dup.tar", entries)
    with pytest.raises(DataFormatError, match=r"'a/b\.png' appears twice"):
        open_container(archive)


def test_extract_safely_writes_the_visible_files(tmp_path):
    archive = plain_tar(tmp_path / "ok.tar.gz", {**FILES, **HIDDEN})
    written = extract_safely(archive, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == sorted(FILES)
    for name, data in FILES.items():
        assert (tmp_path / "out" / name).read_bytes() == data
        assert (tmp_path / "out" / name).stat().st_mtime == 1_600_000_000


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize("kind", ["zip-slip", "tar-dotdot", "tar-symlink", "tar-absolute"])
def test_extract_safely_refuses_before_writing_anything(tmp_path, kind):
    before = files_under(tmp_path)
    good = {"train/cat/a.png": b"fine"}
    if kind == "zip-slip":
        archive = make_zip(tmp_path / "a.zip", {**good, "../../escaped.png": b"evil"})
    else:
        bad = {
            "tar-dotdot": tar_entry("../escaped.png", b"evil"),
            "tar-symlink": tar_entry("train/cat/escaped.png", kind=tarfile.SYMTYPE, link="/tmp"),
            "tar-absolute": tar_entry(str(tmp_path / "escaped.png"), b"evil"),
        }[kind]
        archive = make_tar(tmp_path / "a.tar.gz", [tar_entry("train/cat/a.png", b"fine"), bad])
    before.add(archive.name)
    with pytest.raises(UnsafeDataError):
        extract_safely(archive, tmp_path / "out")
    assert files_under(tmp_path) == before  # not even the good entry, nor an empty out/
    assert not (tmp_path.parent / "escaped.png").exists()


def test_extract_safely_does_not_follow_a_symlink_already_in_the_target(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "out"
    target.mkdir()
    (target / "train").symlink_to(outside)
    archive = plain_tar(tmp_path / "a.tar.gz", {"train/cat/a.png": b"x"})
    with pytest.raises(UnsafeDataError, match="would be written outside"):
        extract_safely(archive, target)
    assert list(outside.iterdir()) == []


def test_extract_safely_does_not_write_through_a_file_symlink(tmp_path):
    outside = tmp_path / "victim.txt"
    outside.write_bytes(b"precious")
    (tmp_path / "out" / "train" / "cat").mkdir(parents=True)
    (tmp_path / "out" / "train" / "cat" / "a.png").symlink_to(outside)
    archive = plain_tar(tmp_path / "a.tar.gz", {"train/cat/a.png": b"overwrite"})
    with pytest.raises(UnsafeDataError, match="would overwrite the symlink"):
        extract_safely(archive, tmp_path / "out")
    assert outside.read_bytes() == b"precious"


def test_extract_safely_wants_an_archive(tmp_path):
    with pytest.raises(DataFormatError, match="expects an archive"):
        extract_safely(write_tree(tmp_path / "d", FILES), tmp_path / "out")
