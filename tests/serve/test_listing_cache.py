"""The runs table outlives the server: a restarted `cnnlab serve` reads only the runs whose
files changed since the last listing (#22: 1,000 runs must list quickly)."""

from __future__ import annotations

import json

from cnnlab.config import build_config
from cnnlab.runs import RunDir
from cnnlab.serve import runs_index
from cnnlab.serve.runs_index import RunsIndex


def make_runs(folder, count):
    for n in range(count):
        run = RunDir(folder / f"run-{n}")
        run.path.mkdir(parents=True)
        run.write_config(build_config({"name": f"run-{n}", "model": {"name": "conv1"}}))
        run.write_status("finished", epoch=1)


def test_a_restarted_index_reads_only_what_changed(tmp_path, monkeypatch):
    runs, cache = tmp_path / "runs", tmp_path / "cache" / "runs.json"
    make_runs(runs, 5)
    first = RunsIndex(runs, cache).rows()
    assert [row["id"] for row in first] == [f"run-{n}" for n in range(5)]
    assert json.loads(cache.read_text())["runs_dir"] == str(runs.resolve())

    read = []
    summary = runs_index.summary_row
    monkeypatch.setattr(
        runs_index, "summary_row", lambda d, p: read.append(p.name) or summary(d, p)
    )
    assert RunsIndex(runs, cache).rows() == first and read == []  # all from the kept rows

    RunDir(runs / "run-3").write_status("running", epoch=2)
    again = RunsIndex(runs, cache).rows()
    assert read == ["run-3"] and again[3]["status"] == "running"
    assert RunsIndex(runs / "run-0", cache).rows() == []  # another folder: not these rows


def test_a_damaged_listing_cache_is_rebuilt(tmp_path):
    runs, cache = tmp_path / "runs", tmp_path / "runs.json"
    make_runs(runs, 2)
    cache.write_text("{not json")
    assert len(RunsIndex(runs, cache).rows()) == 2
    assert len(json.loads(cache.read_text())["rows"]) == 2
