"""Read-only view of a dataset folder or .zip / .tar[.gz|.bz2|.xz] archive, unsafe entries refused.

Archives are read in memory, never extracted, so a hostile entry (absolute path, `..`, link,
device) cannot touch the disk; it is refused with `UnsafeDataError` rather than skipped, so a
tampered archive is noticed. Hidden entries (a component starting with `.`) and macOS
`__MACOSX/` resource forks are ignored. Containers are not thread-safe: read from one thread.
"""

from __future__ import annotations

import lzma
import os
import re
import stat
import tarfile
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cnnlab.errors import DataError, DataFormatError, DatasetNotFoundError, UnsafeDataError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
PRELOAD_BYTES = 512 * 2**20  # tar member bytes kept in memory while listing an archive
# The largest member read: an image file this big is a decompression bomb or nothing a
# convnet here trains on (a 50-megapixel JPEG is about 20 MB)
MAX_MEMBER_BYTES = 64 * 2**20
_EXPECTED = "a folder, a .zip or a .tar / .tar.gz / .tgz / .tar.bz2 / .tar.xz archive"
_DRIVE = re.compile(r"^[A-Za-z]:")
# What a corrupt or truncated archive raises from zipfile / tarfile / gzip / bz2 / lzma.
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
    RuntimeError,  # encrypted zip member
    NotImplementedError,  # unsupported zip compression method
)


@dataclass(frozen=True)
class Member:
    """One regular file in a container."""

    name: str  # posix path relative to the container root, e.g. "train/cat/0001.jpg"
    size: int  # bytes, uncompressed
    mtime_ns: int  # modification time, nanoseconds since the epoch

    @property
    def mtime(self) -> float:
        """Modification time in seconds since the epoch."""
        return self.mtime_ns / 1e9


class Container:
    """A folder or archive seen as a flat list of regular files; use as a context manager."""

    kind = ""  # "directory" | "zip" | "tar"

    def __init__(self, path: Path, members: list[Member], directories: list[str]) -> None:
        _refuse_clashes(path, members, directories)
        self.path = path
        self._members = members
        self._by_name = {m.name: m for m in members}
        self._directories = directories

    def members(self) -> list[Member]:
        """Regular files, in the order they are cheapest to read (archive order, or sorted)."""
        return list(self._members)

    def directories(self) -> list[str]:
        """Directory entries present in the container (lets callers see empty folders)."""
        return list(self._directories)

    def describe(self, name: str) -> str:
        """How to name member `name` in a message."""
        return f"{name!r} in {self.path}"

    def read(self, name: str) -> bytes:
        """The bytes of member `name`; one bigger than `MAX_MEMBER_BYTES` is refused unread."""
        if name not in self._by_name:
            raise DataError(f"{self.path} has no file {name!r}")
        size = self._by_name[name].size
        if size > MAX_MEMBER_BYTES:  # a decompression bomb, or no image cnnlab would train on
            raise DataFormatError(
                f"{self.describe(name)} is {size:,} bytes uncompressed, beyond the "
                f"{MAX_MEMBER_BYTES:,} bytes cnnlab reads for one image; refused before reading it"
            )
        try:
            return self._read(name)
        except _ARCHIVE_ERRORS as e:
            raise DataFormatError(f"cannot read {self.describe(name)}: {e}") from e

    def iter_read(self, names: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """(name, bytes) for each of `names`, in the container's cheapest order."""
        for name in names:
            yield name, self.read(name)

    def _read(self, name: str) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        """Release the underlying file, if any."""

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _refuse_clashes(path: Path, members: list[Member], directories: list[str]) -> None:
    """Refuse a container in which one name is both a file and a folder: it has no layout."""
    files = {m.name for m in members}
    folders = set(directories)
    for name in files:
        parts = name.split("/")
        folders.update("/".join(parts[:k]) for k in range(1, len(parts)))
    clashes = sorted(files & folders)
    if clashes:
        raise DataFormatError(
            f"{path}: entry {clashes[0]!r} is both a file and a folder; every name in a "
            f"dataset archive must be one or the other"
        )


def _is_hidden(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _safe_parts(archive: Path, raw_name: str) -> tuple[str, ...]:
    """The path components of archive entry `raw_name`, refusing anything that could escape."""
    name = raw_name.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name):
        raise UnsafeDataError(
            f"{archive}: entry {raw_name!r} has an absolute path; an archive entry must be a "
            f"relative path inside the dataset"
        )
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafeDataError(
            f"{archive}: entry {raw_name!r} contains a '..' component that points outside the "
            f"dataset; refusing the archive"
        )
    return parts


class DirectoryContainer(Container):
    """A folder on disk; symlinks are followed only while they stay inside it."""

    kind = "directory"

    def __init__(self, path: Path) -> None:
        self._root = path
        members, directories = _walk_directory(path)
        super().__init__(path, members, directories)

    def describe(self, name: str) -> str:
        return str(self._root / name)

    def _read(self, name: str) -> bytes:
        with open(self._root / name, "rb") as f:
            return f.read()


def _walk_directory(root: Path) -> tuple[list[Member], list[str]]:
    """Regular files and folders under `root`, sorted by name; refuses links leaving `root`."""
    root_real = root.resolve()
    members: list[Member] = []
    directories: list[str] = []
    # (folder, its components, real paths of it and its ancestors: a symlink loop ends there)
    stack: list[tuple[str, tuple[str, ...], frozenset[Path]]] = [(str(root), (), frozenset())]
    while stack:
        folder, parts, ancestors = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as e:
            raise DataFormatError(f"cannot list folder {folder}: {e}") from e
        for entry in entries:
            if _is_hidden((entry.name,)):
                continue
            rel = parts + (entry.name,)
            name = "/".join(rel)
            if entry.is_symlink():
                target = Path(entry.path).resolve()
                if not target.is_relative_to(root_real):
                    raise UnsafeDataError(
                        f"{root}: symlink {name!r} points outside the dataset folder "
                        f"(to {target}); refusing to follow it"
                    )
            try:
                st = os.stat(entry.path)
            except OSError as e:
                raise DataFormatError(f"cannot read {entry.path}: {e}") from e
            if stat.S_ISDIR(st.st_mode):
                real = Path(entry.path).resolve()
                if real not in ancestors and real != root_real:
                    directories.append(name)
                    stack.append((entry.path, rel, ancestors | {real}))
            elif stat.S_ISREG(st.st_mode):
                members.append(Member(name, st.st_size, st.st_mtime_ns))
            else:
                raise UnsafeDataError(
                    f"{root}: {name!r} is a device, fifo or socket, not a regular file"
                )
    members.sort(key=lambda m: m.name)
    directories.sort()
    return members, directories


class ZipContainer(Container):
    """A .zip archive read in memory."""

    kind = "zip"

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path)
        try:
            members, directories = self._scan(path)
        except BaseException:
            self._zip.close()
            raise
        super().__init__(path, members, directories)

    def _scan(self, path: Path) -> tuple[list[Member], list[str]]:
        members: list[Member] = []
        directories: list[str] = []
        self._infos: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            parts = _safe_parts(path, info.filename)
            mode = info.external_attr >> 16  # unix st_mode, 0 when made elsewhere
            if stat.S_ISLNK(mode):
                raise UnsafeDataError(
                    f"{path}: entry {info.filename!r} is a symlink; a dataset archive must hold "
                    f"only regular files and folders"
                )
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise UnsafeDataError(
                    f"{path}: entry {info.filename!r} is a device, fifo or socket, not a file"
                )
            if not parts or _is_hidden(parts):
                continue
            name = "/".join(parts)
            if info.is_dir():
                directories.append(name)
                continue
            if name in self._infos:
                raise DataFormatError(f"{path}: entry {name!r} appears twice")
            members.append(Member(name, info.file_size, _zip_mtime_ns(info)))
            self._infos[name] = info
        return members, directories

    def _read(self, name: str) -> bytes:
        return self._zip.read(self._infos[name])

    def close(self) -> None:
        self._zip.close()


def _zip_mtime_ns(info: zipfile.ZipInfo) -> int:
    """A zip entry's local-time stamp in ns (0 if the stamp is invalid)."""
    try:
        return int(time.mktime((*info.date_time, 0, 0, -1))) * 1_000_000_000
    except (OverflowError, ValueError):
        return 0


class TarContainer(Container):
    """A .tar archive, plain or gzip / bzip2 / xz compressed, read in memory in one pass.

    Member bytes are kept while listing, up to `PRELOAD_BYTES`, since going back into a
    compressed stream means decompressing it again from the start.
    """

    kind = "tar"

    def __init__(self, path: Path) -> None:
        self._tar = tarfile.open(path, "r:*")
        try:
            members, directories = self._scan(path)
        except BaseException:
            self._tar.close()
            raise
        super().__init__(path, members, directories)

    def _scan(self, path: Path) -> tuple[list[Member], list[str]]:
        members: list[Member] = []
        directories: list[str] = []
        self._infos: dict[str, tarfile.TarInfo] = {}
        self._preloaded: dict[str, bytes] = {}
        budget = PRELOAD_BYTES
        for info in self._tar:
            parts = _safe_parts(path, info.name)
            if info.issym() or info.islnk():
                raise UnsafeDataError(
                    f"{path}: entry {info.name!r} is a link (to {info.linkname!r}); a dataset "
                    f"archive must hold only regular files and folders"
                )
            if not (info.isfile() or info.isdir()):
                raise UnsafeDataError(
                    f"{path}: entry {info.name!r} is a device or fifo, not a regular file"
                )
            if not parts or _is_hidden(parts):
                continue
            name = "/".join(parts)
            if info.isdir():
                directories.append(name)
                continue
            if name in self._infos:
                raise DataFormatError(f"{path}: entry {name!r} appears twice")
            members.append(Member(name, info.size, int(round(info.mtime * 1e9))))
            self._infos[name] = info
            if info.size <= min(budget, MAX_MEMBER_BYTES):
                budget -= info.size
                self._preloaded[name] = self._read(name)
        return members, directories

    def _read(self, name: str) -> bytes:
        if name in self._preloaded:
            return self._preloaded[name]
        info = self._infos[name]
        if info.sparse is not None:  # GNU sparse file: let tarfile fill the holes
            with self._tar.extractfile(info) as f:  # type: ignore[union-attr]
                return f.read()
        stream = self._tar.fileobj  # a plain member is `size` bytes at `offset_data`
        stream.seek(info.offset_data)
        data = stream.read(info.size)
        if len(data) != info.size:
            raise tarfile.ReadError(f"unexpected end of data in {name!r}")
        return data

    def iter_read(self, names: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """Reads in archive order: one forward pass, even through gzip."""
        wanted = set(names)
        for member in self._members:
            if member.name in wanted:
                yield member.name, self.read(member.name)

    def close(self) -> None:
        self._preloaded.clear()
        self._tar.close()


def _looks_like_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def open_container(path: Path | str) -> Container:
    """Open a dataset folder or archive; refuses a missing path, a non-archive, an unsafe entry."""
    path = Path(path)
    if not path.exists():
        raise DatasetNotFoundError(f"dataset path {path} does not exist; expected {_EXPECTED}")
    if path.is_dir():
        return DirectoryContainer(path)
    if not path.is_file():
        raise DataFormatError(f"{path} is not a regular file or folder; expected {_EXPECTED}")
    try:
        if zipfile.is_zipfile(path):
            return ZipContainer(path)
        return TarContainer(path)
    except _ARCHIVE_ERRORS as e:
        if _looks_like_archive(path) or zipfile.is_zipfile(path):
            raise DataFormatError(f"{path} is a corrupt or truncated archive: {e}") from e
        raise DataFormatError(
            f"{path} is neither a folder nor a readable archive; expected {_EXPECTED}"
        ) from e


def extract_safely(archive: Path | str, target_dir: Path | str) -> list[Path]:
    """Extract `archive` into `target_dir` with the same refusals; nothing lands outside it.

    Every entry is checked before anything is written. Returns the paths of the files written.
    """
    archive, target_dir = Path(archive), Path(target_dir)
    if archive.is_dir():
        raise DataFormatError(f"{archive} is a folder; extract_safely expects an archive file")
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    with open_container(archive) as container:
        target_dir.mkdir(parents=True, exist_ok=True)
        root = target_dir.resolve()
        ready: set[Path] = set()  # folders already checked and created

        def folder(path: Path, name: str) -> None:
            if path not in ready:  # a symlink already in target_dir must not lead elsewhere
                try:
                    _inside(root, path, archive, name).mkdir(parents=True, exist_ok=True)
                except OSError as e:  # e.g. a file already there, or no space left
                    raise DataFormatError(
                        f"{archive}: cannot create the folder for entry {name!r} at {path}: {e}"
                    ) from e
                ready.add(path)

        for name in container.directories():
            folder(root.joinpath(*name.split("/")), name)
        mtimes = {m.name: m.mtime_ns for m in container.members()}
        written = []
        for name, data in container.iter_read(mtimes):
            dest = root.joinpath(*name.split("/"))
            folder(dest.parent, name)
            try:
                fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | nofollow, 0o644)
            except OSError as e:
                if dest.is_symlink():
                    raise UnsafeDataError(
                        f"{archive}: entry {name!r} would overwrite the symlink {dest}"
                    ) from e
                raise DataFormatError(
                    f"{archive}: cannot extract entry {name!r} to {dest}: {e}"
                ) from e
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                stamp = f.fileno() if os.utime in os.supports_fd else dest
                os.utime(stamp, ns=(mtimes[name], mtimes[name]))
            written.append(dest)
    return written


def _inside(root: Path, path: Path, archive: Path, name: str) -> Path:
    """`path`, after checking it resolves inside `root`."""
    if not path.resolve().is_relative_to(root):
        raise UnsafeDataError(
            f"{archive}: entry {name!r} would be written outside {root} (through {path})"
        )
    return path
