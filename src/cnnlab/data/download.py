"""Checksummed, atomic downloads of a dataset's official files (http, https and file URLs)."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from cnnlab.atomic import atomic_write
from cnnlab.data.catalog import RemoteFile
from cnnlab.errors import ChecksumError, DataError

CHUNK_BYTES = 1 << 20


def file_md5(path: Path) -> str:
    """Hex MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, stream, timeout: float, on_bytes: Callable[[int], None] | None) -> str:
    """Copy `url` into the open binary `stream`; return the MD5 of what was written."""
    digest = hashlib.md5(usedforsecurity=False)
    request = urllib.request.Request(url, headers={"User-Agent": "cnnlab"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
            digest.update(chunk)
            stream.write(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return digest.hexdigest()


def download_file(
    remote: RemoteFile,
    target_dir: Path,
    *,
    urls: tuple[str, ...] | None = None,
    timeout: float = 60.0,
    on_bytes: Callable[[int], None] | None = None,
) -> Path:
    """Download `remote` into `target_dir`, verify its MD5, and move it into place atomically.

    Mirrors are tried in order. A file already present with the right checksum is kept. A
    download whose checksum does not match is deleted and raises `ChecksumError`; nothing
    partial is ever left under the final name.
    """
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    final_path = target_dir / remote.filename
    if final_path.exists() and file_md5(final_path) == remote.md5:
        return final_path

    failures: list[str] = []
    for url in urls or remote.urls:
        try:
            with atomic_write(final_path, "wb") as stream:
                md5 = _fetch(url, stream, timeout, on_bytes)
                if md5 != remote.md5:  # raising inside removes the temporary file
                    raise ChecksumError(
                        f"checksum mismatch for {remote.filename} from {url}: expected MD5 "
                        f"{remote.md5}, got {md5}; the download was deleted"
                    )
        except (urllib.error.URLError, OSError, ValueError) as error:
            failures.append(f"{url}: {getattr(error, 'reason', error)}")
            continue
        return final_path

    raise DataError(
        f"could not download {remote.filename} from any mirror:\n  " + "\n  ".join(failures)
    )
