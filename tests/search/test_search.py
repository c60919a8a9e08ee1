"""The search: space parsing, a pruned trial, and two workers sharing one SQLite study."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

from cnnlab.errors import ConfigError
from cnnlab.runs import RunDir
from cnnlab.search import build_search_spec, parse_space, run_search
from cnnlab.search.study import default_storage

TINY = {
    "data": {
        "dataset": "mnist-sample",
        "classes": [0, 1],
        "per_class": 8,
        "offline": True,
        "val": 4,
    },
    "model": {"name": "fc_only"},
    "train": {"epochs": 2, "batch_size": 8, "device": "cpu", "threads": 1},
}
SPACE = {"optim.lr": {"low": 1e-3, "high": 1e-1, "log": True}}


class AlwaysPrune(optuna.pruners.BasePruner):
    """Prunes every trial at its first report."""

    def prune(self, study, trial) -> bool:
        return True


def test_parse_space_kinds():
    lr, depth, opt = parse_space(
        {
            "optim.lr": {"low": 1e-4, "high": 0.1, "log": True},
            "train.epochs": {"low": 1, "high": 3},
            "optim.optimizer": {"choices": ["sgd", "adam"]},
        }
    )
    assert (lr.kind, lr.log, depth.kind, opt.kind, opt.choices) == (
        "float",
        True,
        "int",
        "categorical",
        ("sgd", "adam"),
    )


@pytest.mark.parametrize(
    ("space", "match"),
    [
        ({"optim.lr": {"low": 0.1, "high": 0.01}}, r"'optim.lr'.*low must be below high"),
        ({"optim.lr": {"low": 0, "high": 1, "log": True}}, r"'optim.lr'.*log range needs low > 0"),
        ({"train.epochs": {"low": 1}}, r"'train.epochs'.*needs both low and high"),
        ({"optim.lr": {"low": "a", "high": 1}}, r"'optim.lr'.*must be numbers"),
        ({"model.name": {"choices": []}}, r"'model.name'.*non-empty list"),
        (
            {"optim.lr": {"low": 0.1, "high": 1, "step": 2}},
            r"'optim.lr'.*unknown fields \['step'\]",
        ),
        ({"optim.lr": [0.1, 0.2]}, r"'optim.lr'.*expected a mapping"),
    ],
)
def test_parse_space_rejects_bad_ranges(space, match):
    with pytest.raises(ConfigError, match=match):
        parse_space(space)


def test_spec_checks_keys_and_sets_validation_split():
    with pytest.raises(ConfigError, match=r"space key 'optim.lrr'"):
        build_search_spec({"base": TINY, "space": {"optim.lrr": {"low": 0.1, "high": 1.0}}})
    with pytest.raises(
        ConfigError,
        match=r"space key 'optim.optimizer'.*optim.optimizer: expected one of sgd, adam",
    ):
        build_search_spec({"base": TINY, "space": {"optim.optimizer": {"choices": ["adamm"]}}})
    base = {**TINY, "data": {k: v for k, v in TINY["data"].items() if k != "val"}}
    spec = build_search_spec({"name": "s", "base": base, "space": SPACE})
    assert spec.base["data"]["val"] == 0.1 and "data.val" in spec.notes[0]


def test_pruned_trial_is_recorded_as_pruned(tmp_path):
    spec = build_search_spec({"name": "pruned", "base": TINY, "space": SPACE})
    result = run_search(spec, 1, out=tmp_path, pruner=AlwaysPrune(), report=False)
    study = optuna.load_study(study_name="pruned", storage=result.storage)
    (trial,) = study.get_trials()
    assert trial.state == optuna.trial.TrialState.PRUNED
    status = RunDir(Path(trial.user_attrs["run_dir"])).read_status()
    assert status == {"status": "failed", "reason": "pruned", "epoch": 1}
    assert "PRUNED" in result.results_md.read_text()


def test_two_workers_share_one_study(tmp_path):
    spec_path = tmp_path / "spec.yaml"
    import yaml

    spec_path.write_text(
        yaml.safe_dump(
            {
                "name": "shared",
                "base": {**TINY, "train": {**TINY["train"], "epochs": 1}},
                "space": SPACE,
            }
        )
    )
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from cnnlab.search import load_search_spec, run_search
        run_search(load_search_spec(Path({str(spec_path)!r})), 2, out=Path({str(tmp_path)!r}), report=False)
        """
    )
    workers = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    storage = default_storage(tmp_path / "shared")
    study = optuna.load_study(study_name="shared", storage=storage)
    trials = study.get_trials()
    assert len(trials) == 4
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert sorted(p.name for p in (tmp_path / "shared").glob("trial-*")) == [
        f"trial-000{i}" for i in range(4)
    ]
