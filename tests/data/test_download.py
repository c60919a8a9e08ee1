"""Downloads: checksums verified, atomic placement, mirrors, served from file:// and 127.0.0.1."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cnnlab.data.catalog import RemoteFile
from cnnlab.data.download import download_file
from cnnlab.errors import ChecksumError, DataError

PAYLOAD = b"cnnlab test payload " * 1000


def _remote(source: Path, md5: str | None = None) -> RemoteFile:
    return RemoteFile("payload.bin", (source.as_uri(),), md5 or hashlib.md5(PAYLOAD).hexdigest())


@pytest.fixture
def served(serve_files):
    """The payload on a local HTTP server (127.0.0.1); yields the folder's base URL."""
    return serve_files({"payload.bin": PAYLOAD})


def test_file_url_download_verified_and_placed(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    target = tmp_path / "cache"
    path = download_file(_remote(source), target)
    assert path == target / "payload.bin"
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in target.iterdir()) == ["payload.bin"]


def test_http_download_from_local_server(tmp_path, served):
    remote = RemoteFile("payload.bin", (served + "payload.bin",), hashlib.md5(PAYLOAD).hexdigest())
    path = download_file(remote, tmp_path / "cache", timeout=5)
    assert path.read_bytes() == PAYLOAD


def test_checksum_mismatch_removes_file_and_raises(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    target = tmp_path / "cache"
    with pytest.raises(ChecksumError, match=r"payload\.bin.*expected MD5 0{32}.*deleted"):
        download_file(_remote(source, md5="0" * 32), target)
    assert list(target.iterdir()) == []


def test_failed_mirror_falls_back_to_next(tmp_path, served):
    remote = RemoteFile(
        "payload.bin",
        (served + "missing.bin", served + "payload.bin"),
        hashlib.md5(PAYLOAD).hexdigest(),
    )
    assert download_file(remote, tmp_path / "cache", timeout=5).read_bytes() == PAYLOAD


def test_all_mirrors_failing_lists_each(tmp_path, served):
    remote = RemoteFile("payload.bin", (served + "a.bin", served + "b.bin"), "0" * 32)
    with pytest.raises(DataError, match=r"(?s)could not download payload\.bin.*a\.bin.*b\.bin"):
        download_file(remote, tmp_path / "cache", timeout=5)
    assert list((tmp_path / "cache").iterdir()) == []


def test_existing_verified_file_is_kept_without_fetching(tmp_path):
    target = tmp_path / "cache"
    target.mkdir()
    (target / "payload.bin").write_bytes(PAYLOAD)
    remote = RemoteFile("payload.bin", ("file:///nonexistent/x",), hashlib.md5(PAYLOAD).hexdigest())
    assert download_file(remote, target).read_bytes() == PAYLOAD


def test_corrupt_existing_file_is_replaced_by_a_good_download(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    target = tmp_path / "cache"
    target.mkdir()
    (target / "payload.bin").write_bytes(b"truncated")
    assert download_file(_remote(source), target).read_bytes() == PAYLOAD
