"""`cnnlab sweep --storage URL`: worker processes split one grid through an SQLite Optuna study,
each point trained once; a killed worker's point is retried; `--collect`; the refusals."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import sqlalchemy
import yaml
from optuna.distributions import CategoricalDistribution

import cnnlab
from cnnlab.cli import main
from cnnlab.sweep import expand, load_spec, run_sweep
from cnnlab.sweep.storage import (
    HEARTBEAT_S,
    OUTCOME_ATTR,
    POINT,
    SKIPPED_ATTR,
    open_grid,
    quiet_optuna,
)
from cnnlab.sweep.worker import take_point

SPEC = {
    "name": "grid",
    "base": {
        "data": {"dataset": "mnist-sample", "classes": [0, 1], "per_class": 8, "offline": True},
        "model": {"name": "fc_only"},
        "train": {"epochs": 1, "batch_size": 8, "device": "cpu"},
    },
    "grid": {"optim.lr": [0.01, 0.003, 0.001]},
    "seeds": 2,
}
NAMES = sorted(f"lr={lr},seed={s}" for lr in ("0.01", "0.003", "0.001") for s in (0, 1))
CHECKOUT = str(Path(cnnlab.__file__).parents[1])  # this checkout's cnnlab, for the workers


def worker(spec: Path, url: str, out: Path, *extra: str) -> subprocess.Popen:
    """A `cnnlab sweep --storage` worker process (heartbeat every second: dead after 2 s)."""
    command = [sys.executable, "-m", "cnnlab", "sweep", str(spec), "--storage", url]
    command += ["--out", str(out), "--no-report", "--heartbeat", "1", *extra]
    env = {
        **os.environ,
        "PYTHONPATH": CHECKOUT,
        "MPLBACKEND": "Agg",
    }  # the session CNNLAB_CACHE too
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return [{k: v for k, v in row.items() if k != "time_s"} for row in csv.DictReader(stream)]


def trials(url: str, starting: bool = False) -> list[optuna.trial.FrozenTrial]:
    """The study's trials; none while no worker has made it yet. With `starting`, also none
    while a worker may still be creating the database's tables (reading then races it)."""
    try:
        return optuna.load_study(study_name="grid", storage=url).get_trials()
    except KeyError:
        return []
    except sqlalchemy.exc.SQLAlchemyError:
        if starting:
            return []
        raise


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "grid.yaml"
    path.write_text(yaml.safe_dump(SPEC), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def local_rows(spec_file, tmp_path_factory) -> list[dict]:
    """results.csv of the same sweep trained locally, without a storage (time aside)."""
    result = run_sweep(spec_file, tmp_path_factory.mktemp("local"), report=False)
    return read_rows(result.csv_path)


@pytest.fixture(scope="module")
def shared(spec_file, tmp_path_factory) -> tuple[Path, str, list]:
    """Two workers started together on one SQLite study: (their --out, the URL, their ends)."""
    root = tmp_path_factory.mktemp("shared")
    url = f"sqlite:///{root / 'sweep.db'}"
    workers = [worker(spec_file, url, root / "out") for _ in range(2)]
    ends = [
        (w.wait(timeout=120), *(s.read().decode() for s in (w.stdout, w.stderr))) for w in workers
    ]
    return root / "out", url, ends


def test_two_workers_split_the_grid_and_train_each_point_once(shared, local_rows):
    out, url, ends = shared
    assert [code for code, _, _ in ends] == [0, 0], [err[-2000:] for _, _, err in ends]
    counts = [int(err.split("this worker took ")[1].split(" ")[0]) for _, _, err in ends]
    assert sum(counts) == 6 and all(counts), counts  # both took points, none twice
    done = [t for t in trials(url) if OUTCOME_ATTR in t.user_attrs]
    assert sorted(t.params[POINT] for t in done) == NAMES  # each point trained once
    assert sorted(p.name for p in (out / "grid" / "runs").iterdir()) == NAMES
    assert read_rows(out / "grid" / "results.csv") == local_rows  # same columns, points, values
    assert "Partial" not in (out / "grid" / "results.md").read_text(encoding="utf-8")


def test_collect_writes_the_same_tables_from_the_storage(shared, spec_file, local_rows, tmp_path):
    _, url, _ = shared
    code = main(["sweep", str(spec_file), "--storage", url, "--collect", "--out", str(tmp_path)])
    assert code == 0
    folder = tmp_path / "grid"
    assert read_rows(folder / "results.csv") == local_rows  # no run directory here: all stored
    assert "## Per-epoch" in (folder / "results.md").read_text(encoding="utf-8")
    assert (folder / "figures" / "test_accuracy.png").stat().st_size > 1000
    assert not (folder / "runs").exists()  # collecting trains nothing


def test_a_killed_workers_point_is_trained_by_another(local_rows, tmp_path):
    spec_file = tmp_path / "two.yaml"  # two of the six points, to keep the test short
    two = {**SPEC, "grid": {"optim.lr": [0.01, 0.001]}, "seeds": [1]}
    spec_file.write_text(yaml.safe_dump(two), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    doomed = worker(spec_file, url, tmp_path / "out", "--hold", "60")  # holds its first point
    held, deadline = [], time.monotonic() + 60
    while not held and time.monotonic() < deadline:
        time.sleep(0.5)
        if (tmp_path / "sweep.db").exists():
            held = [
                t
                for t in trials(url, starting=True)
                if t.state.name == "RUNNING" and POINT in t.params
            ]
    assert held, doomed.communicate()[1].decode()[-2000:]
    doomed.kill()  # SIGKILL: no cleanup, its point stays RUNNING until its heartbeat is stale
    doomed.wait()
    survivor = worker(spec_file, url, tmp_path / "out")
    _, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err.decode()[-2000:]
    assert "took 2 run(s)" in err.decode()  # its own and the dead worker's point
    by_number = {t.number: t for t in trials(url)}
    assert by_number[held[0].number].state.name == "FAIL"
    retry = [t for t in by_number.values() if t.system_attrs.get("failed_trial") == held[0].number]
    assert [t.params[POINT] for t in retry] == [held[0].params[POINT]]
    assert OUTCOME_ATTR in retry[0].user_attrs
    expected = [row for row in local_rows if row["seed"] == "1" and row["optim.lr"] != "0.003"]
    assert read_rows(tmp_path / "out" / "grid" / "results.csv") == expected


def test_a_duplicate_point_is_skipped_and_collect_marks_a_partial_table(
    spec_file, tmp_path, capsys
):
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    spec = load_spec(spec_file)
    runs = expand(spec, tmp_path / "out" / "grid" / "runs")
    grid = open_grid(spec, runs, url, heartbeat=1)
    with quiet_optuna():
        other = grid.study.ask({POINT: CategoricalDistribution(grid.names)})
    name = other.params[POINT]  # held by another worker, which is still alive
    grid.study.enqueue_trial({POINT: name})  # handed out again, as racing workers may be
    by_name = {run.name: run for run in runs}
    assert take_point(grid, spec, by_name, report=False) == (name, False)
    skipped = grid.study.get_trials()[-1]
    assert skipped.state.name == "PRUNED" and skipped.user_attrs[SKIPPED_ATTR] == other.number
    assert not (tmp_path / "out" / "grid" / "runs" / name).exists()  # not trained
    trained, took = take_point(grid, spec, by_name, report=False)  # an open point: trained
    assert took and trained != name

    code = main(["sweep", str(spec_file), "--storage", url, "--collect", "--out", str(tmp_path)])
    said = capsys.readouterr()
    assert code == 1
    assert "cnnlab: error: sweep grid: 5 of 6 runs are not done yet" in said.err
    markdown = (tmp_path / "grid" / "results.md").read_text(encoding="utf-8")
    assert "Partial table: 5 of 6 runs are not done yet (1 running, 4 not started)." in markdown
    rows = {row["run"]: row["status"] for row in read_rows(tmp_path / "grid" / "results.csv")}
    assert rows[trained] == "finished" and rows[name] == "running"
    assert sorted(rows.values()).count("not run") == 4


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--storage", "not a url"], "not a database URL cnnlab can open"),
        (["--storage", "nosuchdb://host/x"], "expected an SQLAlchemy URL such as sqlite:///"),
        (["--storage", "sqlite:////no/such/folder/x.db"], "cannot open the database"),
        (["--collect"], "sweep --collect: give the --storage URL"),
        (["--storage", "sqlite:///x.db", "--workers", "2"], "start the command 2 times"),
        (["--storage", "sqlite:///x.db", "--heartbeat", "0"], "expected whole seconds >= 1"),
        (["--heartbeat", "5"], "sweep --heartbeat: only a worker"),
    ],
)
def test_bad_storage_arguments_are_refused(
    spec_file, tmp_path, monkeypatch, capsys, arguments, said
):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(spec_file), "--out", str(tmp_path), *arguments]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cnnlab: error: ") and said in err, err
    assert "Traceback" not in err


def test_a_study_of_another_spec_or_none_is_refused(shared, spec_file, tmp_path, capsys):
    _, url, _ = shared
    base = ["sweep", str(spec_file), "--storage", url, "--out", str(tmp_path)]
    assert main([*base, "--epochs", "2"]) == 1  # every point's config differs
    err = capsys.readouterr().err
    assert "was made from another spec (points with other settings: lr=0.001,seed=0" in err
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**SPEC, "seeds": 3}), encoding="utf-8")
    assert main(["sweep", str(other), "--storage", url, "--out", str(tmp_path), "--collect"]) == 1
    assert "points only in this spec: lr=0.001,seed=2" in capsys.readouterr().err
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["sweep", str(spec_file), "--storage", empty, "--collect"]) == 1
    assert "there is no study 'grid' at" in capsys.readouterr().err


def test_the_heartbeat_help_names_the_default(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    assert f"default {HEARTBEAT_S}," in " ".join(capsys.readouterr().out.split())
