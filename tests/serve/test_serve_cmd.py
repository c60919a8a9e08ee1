"""`cnnlab serve`: the URL it prints, the warning for a host others can reach, and the
message without the `serve` extra."""

from __future__ import annotations

import pytest

from cnnlab.cli import main
from cnnlab.serve import server


@pytest.fixture
def no_uvicorn(monkeypatch):
    """uvicorn.run recorded instead of serving forever."""
    uvicorn = pytest.importorskip("uvicorn")
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    return calls


def test_serve_prints_the_url_and_listens_on_loopback(tmp_path, capsys, no_uvicorn):
    assert main(["serve", str(tmp_path), "--port", "8123"]) == 0
    out, err = capsys.readouterr()
    assert "http://127.0.0.1:8123/" in out and "warning" not in err
    assert no_uvicorn == [{"host": "127.0.0.1", "port": 8123, "log_level": "warning"}]


def test_a_host_others_can_reach_is_warned_about(tmp_path, capsys, no_uvicorn):
    assert main(["serve", str(tmp_path), "--host", "0.0.0.0"]) == 0
    assert "anyone on the network" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.5", False), ("::", False), ("example.org", False)],
)  # fmt: skip
def test_loopback_hosts(host, loopback):
    assert server.is_loopback(host) is loopback


def test_a_missing_folder_or_extra_is_said(tmp_path, capsys, monkeypatch, no_uvicorn):
    assert main(["serve", str(tmp_path / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().err
    monkeypatch.setitem(server.EXTRA, "fastapi", ("no_such_module_for_cnnlab",))
    assert main(["serve", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "cnnlab: error:" in err and "fastapi" in err and "pip install 'cnnlab[serve]'" in err
    assert no_uvicorn == []
