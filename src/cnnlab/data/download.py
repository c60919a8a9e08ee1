"""Checksummed, atomic downloads of a dataset's official files (http, https and file URLs)."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from cnnlab.atomic import atomic_write
from cnnlab.data.catalog import RemoteFile
from cnnlab.errors import ChecksumError, DataError

CHUNK_BYTES = 1 << 20


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """Hex digest (`md5` or `sha256`) of a file, read in chunks."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(
    url: str, stream, algorithm: str, timeout: float, on_bytes: Callable[[int], None] | None
) -> str:
    """Copy `url` into the open binary `stream`; return the hex digest of what was written."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    request = urllib.request.Request(url, headers={"User-Agent": "cnnlab"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
            digest.update(chunk)
            stream.write(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return digest.hexdigest()


def download_verified(
    final_path: Path,
    urls: Sequence[str],
    *,
    algorithm: str,
    expected: str,
    expected_text: str,
    timeout: float = 60.0,
    on_bytes: Callable[[int], None] | None = None,
    failure_hint: str = "",
) -> Path:
    """Download the first of `urls` whose `algorithm` digest starts with `expected` (a whole
    digest, or the published prefix of one) to `final_path`, atomically.

    A mismatching download is deleted (`ChecksumError`); when every URL fails, a `DataError`
    lists each URL's reason, then `failure_hint`. Nothing partial is left under the final name.
    """
    failures: list[str] = []
    for url in urls:
        try:
            with atomic_write(final_path, "wb") as stream:
                digest = _fetch(url, stream, algorithm, timeout, on_bytes)
                if not digest.startswith(expected):  # raising inside removes the temporary file
                    raise ChecksumError(
                        f"checksum mismatch for {final_path.name} from {url}: expected "
                        f"{expected_text}, got {digest}; the download was deleted"
                    )
        except (urllib.error.URLError, OSError, ValueError) as error:
            failures.append(f"{url}: {getattr(error, 'reason', error)}")
            continue
        return final_path
    raise DataError(
        f"could not download {final_path.name}:\n  " + "\n  ".join(failures) + failure_hint
    )


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
    if final_path.exists() and file_digest(final_path, "md5") == remote.md5:
        return final_path
    return download_verified(
        final_path,
        urls or remote.urls,
        algorithm="md5",
        expected=remote.md5,
        expected_text=f"MD5 {remote.md5}",
        timeout=timeout,
        on_bytes=on_bytes,
    )
