"""MLflow tracking (`train.tracker: mlflow`): what a run logs, read back from the store; a resume
logging on into the same MLflow run; the missing package, a store that cannot be opened, and a
logging failure mid-run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cnnlab.cli import main
from cnnlab.config import load_experiments
from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.experiment import console_table, resume, train
from cnnlab.experiment.mlflow_tracker import tracking_uri
from cnnlab.runs import RunDir

mlflow = pytest.importorskip(
    "mlflow", reason="needs the mlflow extra: pip install 'cnnlab[mlflow]'"
)
# MLflow's SQLAlchemy store uses a loader SQLAlchemy 2.1 deprecates: MLflow's to mend, not ours
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")

BASE = [
    "data.dataset=mnist-sample", "data.classes=[0,1,7]", "data.per_class=8", "data.val=6",
    "data.offline=true", "model.name=conv1", "train.batch_size=8", "train.device=cpu",
    "train.tracker=mlflow",
]  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One SQLite store for the module (creating its tables takes seconds); each test logs into
    its own experiment."""
    return "sqlite:///" + (tmp_path_factory.mktemp("mlflow") / "mlflow.db").as_posix()


def configure(tmp_path: Path, store: str, experiment: str, *extra: str):
    (config,) = load_experiments(
        None,
        [*BASE, f"out={tmp_path}", f"train.tracking_uri={store}",
         f"train.experiment_name={experiment}", *extra],
    )  # fmt: skip
    return config


def only_run(store: str, experiment: str):
    """The experiment's one MLflow run (fails when there are more)."""
    client = mlflow.MlflowClient(tracking_uri=store)
    found = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert len(found) == 1, [run.info.run_name for run in found]
    return client, found[0]


def steps(client, run, key: str) -> list[int]:
    return sorted(metric.step for metric in client.get_metric_history(run.info.run_id, key))


def test_a_run_logs_params_epochs_test_metrics_and_its_report(tmp_path, store):
    config = configure(tmp_path, store, "whole", "train.epochs=2")
    result = train(config, quiet=True)
    run = RunDir(result.run_dir)
    client, logged = only_run(store, "whole")
    assert run.read_tracker_run().run_id == logged.info.run_id
    assert logged.info.run_name == run.path.name and logged.info.status == "FINISHED"
    assert logged.data.tags["cnnlab.run_dir"] == str(run.path.resolve())
    params = logged.data.params
    assert params["train.epochs"] == "2" and params["model.name"] == "conv1"
    assert params["optim.lr"] == str(config.optim.lr) and "out" not in params
    for key in ("train_loss", "train_accuracy", "val_accuracy", "val_f1", "lr"):
        assert steps(client, logged, key) == [1, 2], key
    epochs = run.read_epochs()
    history = client.get_metric_history(logged.info.run_id, "val_loss")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(
        [row["val_loss"] for row in epochs]
    )
    test = run.read_test_metrics()
    assert logged.data.metrics["test_accuracy"] == pytest.approx(test["accuracy"])
    assert logged.data.metrics["test_balanced_accuracy"] == pytest.approx(test["balanced_accuracy"])
    artifacts = {item.path for item in client.list_artifacts(logged.info.run_id)}
    assert {"report.html", "report.md", "figures"} <= artifacts
    figures = {item.path for item in client.list_artifacts(logged.info.run_id, "figures")}
    assert "figures/confusion_matrix.png" in figures
    assert figures == {f"figures/{path.name}" for path in run.figures.iterdir()}
    # the console table's balanced accuracy is metrics.json's
    assert result.metrics["test_balanced_accuracy"] == test["balanced_accuracy"]
    header, row = console_table([result]).splitlines()
    assert "test acc  test bal acc  test F1" in header
    assert f"{test['balanced_accuracy']:.4f}" in row.split()


def test_a_resume_logs_on_into_the_same_mlflow_run(tmp_path, store):
    config = configure(tmp_path, store, "resumed", "train.epochs=1")
    first = train(config, quiet=True, report=False)
    _, before = only_run(store, "resumed")
    assert before.info.status == "FINISHED"
    resume(first.run_dir, quiet=True, report=False, epochs=2)  # one epoch more
    client, after = only_run(store, "resumed")
    assert after.info.run_id == before.info.run_id and after.info.status == "FINISHED"
    assert steps(client, after, "train_loss") == [1, 2]
    # params stay as first logged; the new plan is a tag
    assert after.data.params["train.epochs"] == "1"
    assert after.data.tags["config.train.epochs"] == "2"
    test = RunDir(first.run_dir).read_test_metrics()
    assert after.data.metrics["test_accuracy"] == pytest.approx(test["accuracy"])
    assert steps(client, after, "test_accuracy") == [1, 2]  # once after each evaluation


def test_missing_mlflow_stops_the_run_before_it_starts(tmp_path, store, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now fails
    config = configure(tmp_path, store, "missing", "train.epochs=1")
    with pytest.raises(
        ConfigError, match=r"train.tracker: mlflow .*pip install 'cnnlab\[mlflow\]'"
    ):
        train(config, quiet=True)
    assert not (tmp_path / config.run_name).exists()
    argv = ["train", "--out", str(tmp_path), *(arg for item in BASE for arg in ("--set", item))]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "cnnlab: error: train.tracker: mlflow needs the mlflow package" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("uri", ["sqlite:///{tmp}/a-file/mlflow.db", "nosuchscheme://{tmp}/store"])
def test_a_store_that_cannot_be_opened_stops_the_run_before_it_starts(tmp_path, uri):
    (tmp_path / "a-file").write_text("a file where the store's folder would be\n")
    uri = uri.format(tmp=tmp_path.as_posix())
    config = configure(tmp_path, uri, "unopened", "train.epochs=1")
    with pytest.raises(ConfigError, match=r"train.tracking_uri: cannot open the MLflow store"):
        train(config, quiet=True)
    assert not (tmp_path / config.run_name).exists()  # no run directory, no status.json


def test_a_logging_failure_mid_run_warns_and_training_finishes(
    tmp_path, store, monkeypatch, capsys
):
    logged_batch = mlflow.MlflowClient.log_batch

    def failing(self, run_id, metrics=(), params=(), tags=(), **kwargs):
        if metrics:
            raise mlflow.exceptions.MlflowException("the store went away")
        return logged_batch(self, run_id, metrics=metrics, params=params, tags=tags, **kwargs)

    monkeypatch.setattr(mlflow.MlflowClient, "log_batch", failing)
    config = configure(tmp_path, store, "failing", "train.epochs=2")
    result = train(config, quiet=True, report=False)
    run = RunDir(result.run_dir)
    assert run.read_status()["status"] == "finished" and run.read_test_metrics() is not None
    err = capsys.readouterr().err
    assert err.count("cnnlab: warning: MLflow logging failed") == 1  # warned once
    assert "while logging epoch 1" in err and "the store went away" in err
    _, logged = only_run(store, "failing")
    assert logged.data.metrics == {} and logged.info.status == "FINISHED"  # closed all the same


def test_the_store_is_the_key_then_mlflows_variable_then_a_local_sqlite_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    local = "sqlite:///" + (tmp_path / "mlflow.db").as_posix()
    assert tracking_uri(None, {}) == local
    assert tracking_uri(None, {"MLFLOW_TRACKING_URI": ""}) == local
    # a relative SQLite file is made absolute: a resume from elsewhere finds the same store
    absolute = "sqlite:///" + (tmp_path / "x.db").as_posix()
    assert tracking_uri(None, {"MLFLOW_TRACKING_URI": "sqlite:///x.db"}) == absolute
    assert tracking_uri("sqlite:///y.db", {"MLFLOW_TRACKING_URI": "sqlite:///x.db"}) == (
        "sqlite:///" + (tmp_path / "y.db").as_posix()
    )
    assert tracking_uri("http://127.0.0.1:5000", {}) == "http://127.0.0.1:5000"  # as given


def test_tracker_keys_are_validated():
    assert load_experiments(None, [])[0].train.tracker == "none"
    with pytest.raises(ConfigError, match=r"train.tracker: expected one of none, mlflow"):
        load_experiments(None, ["train.tracker=wandb"])
    with pytest.raises(ConfigError, match=r"train.experiment_name: expected an experiment name"):
        load_experiments(None, ["train.experiment_name=' '"])


def test_a_damaged_mlflow_json_names_the_file(tmp_path):
    (tmp_path / "mlflow.json").write_text(json.dumps({"run_id": "abc"}))
    with pytest.raises(CnnlabError, match=r"mlflow.json: damaged .*tracking_uri"):
        RunDir(tmp_path).read_tracker_run()
