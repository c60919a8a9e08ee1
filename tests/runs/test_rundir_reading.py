"""RunDir's readers read as `open()` does, with less machinery (a listing reads thousands of
small files): universal newlines, None for a missing file, an error naming a damaged one."""

from __future__ import annotations

import pytest

from cnnlab.errors import CnnlabError
from cnnlab.runs import RunDir
from cnnlab.runs.textfiles import read_text_file


@pytest.mark.parametrize(
    "data",
    [b"a\r\nb\rc\n", b"\r\n\r\n", b"no newline", b"\xc3\xa9t\xc3\xa9\r", b"x\r\n" * 70_000, b""],
)
def test_text_is_what_open_reads(tmp_path, data):
    path = tmp_path / "file.txt"
    path.write_bytes(data)
    with open(path, encoding="utf-8") as stream:
        assert read_text_file(path) == stream.read()


def test_missing_files_and_folders_of_that_name_are_none(tmp_path):
    run = RunDir(tmp_path)
    assert run.read_status() == {"status": "unknown"} and run.read_test_metrics() is None
    run.final_path.mkdir()
    assert run.read_final() == {} and read_text_file(tmp_path / "nowhere" / "x") is None


def test_crlf_files_read_as_written_elsewhere(tmp_path):
    run = RunDir(tmp_path)
    run.status_path.write_bytes(b'{\r\n  "status": "finished",\r\n  "epoch": 3\r\n}\r\n')
    run.metrics_path.write_bytes(b"epoch,val_accuracy\r\n1,0.5\r\n2,0.75\r\n")
    run.config_path.write_bytes(b"model:\r\n  name: conv1\r\ntrain:\r\n  epochs: 4\r\n")
    assert run.read_status() == {"status": "finished", "epoch": 3}
    assert run.read_epoch_column("val_accuracy") == [0.5, 0.75]
    assert run.read_config_outline() == {"model": "conv1", "dataset": None, "epochs": 4}


def test_bytes_that_are_not_utf8_name_the_file(tmp_path):
    run = RunDir(tmp_path)
    run.status_path.write_bytes(b'{"status": "\xff"}')
    run.config_path.write_bytes(b"model:\n  name: \xff\n")
    with pytest.raises(CnnlabError, match=r"status\.json: unreadable: 'utf-8' codec"):
        run.read_status()
    with pytest.raises(CnnlabError, match=r"config\.yaml: not a readable YAML config: 'utf-8'"):
        run.read_config_outline()
