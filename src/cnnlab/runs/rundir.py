"""The run directory: every file name, each with a typed reader and an atomic writer.

No other module names a run's files: they ask `RunDir`. Writers replace a file whole (a crash
never truncates one); readers of damaged files raise a `CnnlabError` naming the file.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from cnnlab.atomic import write_text
from cnnlab.config import ExperimentConfig, build_config, dump_config
from cnnlab.data.input_stats import InputStats, stats_from_dict
from cnnlab.errors import CnnlabError
from cnnlab.models.source import ModelSource
from cnnlab.runs.config_yaml import load_yaml, outline_of, read_outline
from cnnlab.runs.predictions import (
    Predictions,
    read_predictions,
    save_leaderboard,
    save_predictions,
)
from cnnlab.runs.textfiles import csv_text, read_csv_column, read_csv_rows, read_text_file
from cnnlab.training.checkpoint import load_checkpoint, save_checkpoint

STATUSES = ("running", "finished", "early_stopped", "diverged", "interrupted", "failed")
SETTLED = ("finished", "early_stopped")  # trained to the end: evaluated, never run again
EPOCH_COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",  # running: measured while the weights moved during the epoch
    "train_f1",
    "val_loss",
    "val_accuracy",
    "val_f1",
    "test_loss",  # only with train.watch_test: the record, never used for selection
    "test_accuracy",
    "test_f1",
    "lr",
    "epoch_seconds",
    "eval_seconds",  # of epoch_seconds, the time spent validating (and watching the test set)
)
ITERATION_COLUMNS = ("iteration", "epoch", "loss", "lr", "val_loss", "val_accuracy")
RESULT_PREFIX = "test accuracy: "  # train.log's last line once the run is evaluated
CHECKPOINTS = ("best", "last")
MODEL_SOURCE_FILES = {"python": "model_source.py", "spec": "model_spec.yaml"}  # kind -> name


def json_safe(value: Any) -> Any:
    """NaN and infinities as None, recursively (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def output_tag(dataset: str | None, split: str, own_dataset: str) -> str | None:
    """None for the run's own test split, else the tag of `metrics-<tag>.json` and friends."""
    own = dataset is None or dataset == own_dataset
    if own and split == "test":
        return None
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", str(dataset)).strip("_")
    return split if own else f"{slug}-{split}"


@dataclass(frozen=True)
class TrackerRun:
    """Where a run is tracked (`mlflow.json`): the store and the MLflow run it logs into."""

    tracking_uri: str
    experiment_id: str
    run_id: str


@dataclass(frozen=True)
class RunDir:
    """One run's directory: its paths, and a reader and writer for each file."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    # -- paths ---------------------------------------------------------------------------
    config_path = property(lambda self: self.path / "config.yaml")
    status_path = property(lambda self: self.path / "status.json")
    env_path = property(lambda self: self.path / "env.json")
    metrics_path = property(lambda self: self.path / "metrics.csv")  # per epoch
    iterations_path = property(lambda self: self.path / "iterations.csv")
    final_path = property(lambda self: self.path / "final_metrics.json")
    log_path = property(lambda self: self.path / "train.log")
    figures = property(lambda self: self.path / "figures")
    report_md = property(lambda self: self.path / "report.md")
    report_html = property(lambda self: self.path / "report.html")
    profile_path = property(lambda self: self.path / "data_profile.md")
    input_stats_path = property(lambda self: self.path / "input_stats.json")
    tensorboard = property(lambda self: self.path / "tensorboard")
    mlflow_path = property(lambda self: self.path / "mlflow.json")  # the MLflow run it logs to
    best_checkpoint = property(lambda self: self.path / "best.pt")
    last_checkpoint = property(lambda self: self.path / "last.pt")
    best_npz = property(lambda self: self.path / "best.npz")  # the NumPy engine's weights
    last_npz = property(lambda self: self.path / "last.npz")
    readme_path = property(lambda self: self.path / "README.md")
    export_dir = property(lambda self: self.path / "export")  # `cnnlab export`'s default --out

    def model_source_path(self, kind: str) -> Path:
        """`model_source.py` (a user's model file) or `model_spec.yaml` (a layer spec)."""
        if kind not in MODEL_SOURCE_FILES:
            raise CnnlabError(f"model source {kind!r}: expected one of {list(MODEL_SOURCE_FILES)}")
        return self.path / MODEL_SOURCE_FILES[kind]

    def checkpoint(self, which: str) -> Path:
        """`best.pt` or `last.pt`."""
        if which not in CHECKPOINTS:
            raise CnnlabError(f"checkpoint {which!r}: expected one of {', '.join(CHECKPOINTS)}")
        return self.path / f"{which}.pt"

    def save_checkpoint(self, which: str, state: dict[str, Any]) -> None:
        """best.pt or last.pt, written atomically."""
        save_checkpoint(self.checkpoint(which), state)

    def load_checkpoint(self, which: str, device: Any = "cpu") -> dict[str, Any]:
        """best.pt or last.pt, read with weights_only=True; errors name the file."""
        return load_checkpoint(self.checkpoint(which), map_location=device)

    def test_metrics_path(self, tag: str | None = None) -> Path:
        """metrics.json (the run's own test split) or metrics-<tag>.json."""
        return self.path / ("metrics.json" if tag is None else f"metrics-{tag}.json")

    def predictions_path(self, tag: str | None = None) -> Path:
        """predictions.csv (the run's own test split) or predictions-<tag>.csv."""
        return self.path / ("predictions.csv" if tag is None else f"predictions-{tag}.csv")

    def leaderboard_path(self, tag: str | None = None) -> Path:
        """leaderboard.csv (the run's own test split) or leaderboard-<tag>.csv."""
        return self.path / ("leaderboard.csv" if tag is None else f"leaderboard-{tag}.csv")

    def exists(self) -> bool:
        """Whether this looks like a run: a directory with a config.yaml."""
        return self.config_path.is_file()

    # -- config.yaml ---------------------------------------------------------------------
    def write_config(self, config: ExperimentConfig) -> None:
        write_text(self.config_path, dump_config(config))

    def _config_text(self) -> str:
        """config.yaml's text; a missing run or file raises naming it."""
        try:
            text = read_text_file(self.config_path)
        except (OSError, UnicodeDecodeError) as error:
            raise CnnlabError(f"{self.config_path}: not a readable YAML config: {error}") from None
        if text is not None:
            return text
        if not self.path.is_dir():
            raise CnnlabError(f"run directory {self.path} does not exist")
        raise CnnlabError(f"{self.path} is not a cnnlab run: {self.config_path.name} is missing")

    def _config_mapping(self, text: str) -> dict:
        try:
            config = load_yaml(text) or {}
        except (yaml.YAMLError, RecursionError) as error:
            raise CnnlabError(f"{self.config_path}: not a readable YAML config: {error}") from None
        if not isinstance(config, dict):
            raise CnnlabError(
                f"{self.config_path}: expected a mapping of config sections, got {type(config).__name__}"
            )
        return config

    def read_config_data(self) -> dict:
        """config.yaml as a plain mapping; a missing or damaged file raises naming it."""
        return self._config_mapping(self._config_text())

    def read_config_outline(self) -> dict[str, Any]:
        """model.name, data.dataset and train.epochs of config.yaml (None where absent), read
        without building the whole document when libyaml can: for listings of many runs."""
        text = self._config_text()
        try:
            outline = read_outline(text)
        except (yaml.YAMLError, RecursionError) as error:
            raise CnnlabError(f"{self.config_path}: not a readable YAML config: {error}") from None
        return outline if outline is not None else outline_of(self._config_mapping(text))

    def read_config(self) -> ExperimentConfig:
        """config.yaml validated; errors name the file and the key."""
        return build_config(self.read_config_data(), str(self.config_path))

    def read_config_text(self) -> str | None:
        """config.yaml as written (None when absent)."""
        return self._text(self.config_path)

    # -- status.json, env.json, final_metrics.json ---------------------------------------
    def write_status(self, status: str, **details: Any) -> None:
        assert status in STATUSES, status
        self._write_json(self.status_path, {"status": status, **details})

    def overwrite_status(self, status: str, **details: Any) -> None:
        """status.json rewritten in place, for when the disk is full: the file's own block is
        reused where an atomic write would need a new one (a crash mid-write could leave it
        damaged, which its reader then says)."""
        assert status in STATUSES, status
        text = (json.dumps({"status": status, **details}, indent=2, default=str) + "\n").encode()
        with open(self.status_path, "r+b") as stream:
            stream.write(text)
            stream.truncate()

    def read_status(self) -> dict[str, Any]:
        """status.json ({"status": "unknown"} when there is none yet)."""
        return self._read_json(self.status_path) or {"status": "unknown"}

    def write_env(self, env: dict[str, Any]) -> None:
        self._write_json(self.env_path, env)

    def read_env(self) -> dict[str, Any]:
        return self._read_json(self.env_path) or {}

    def write_final(self, final: dict[str, Any]) -> None:
        """final_metrics.json: training time and the final weights' training-set accuracy."""
        self._write_json(self.final_path, final)

    def read_final(self) -> dict[str, Any]:
        return self._read_json(self.final_path) or {}

    # -- input_stats.json ----------------------------------------------------------------
    def write_input_stats(self, stats: InputStats) -> None:
        """input_stats.json: the training images' pixel statistics, for `predict`'s checks."""
        self._write_json(self.input_stats_path, asdict(stats))

    def read_input_stats(self) -> InputStats | None:
        """input_stats.json (None for runs made before it existed); damaged: an error naming it."""
        data = self._read_json(self.input_stats_path)
        return None if data is None else stats_from_dict(data, str(self.input_stats_path))

    # -- model_source.py / model_spec.yaml, README.md --------------------------------------
    def write_model_source(self, source: ModelSource) -> Path:
        """A copy of the model's file as it was when the run trained."""
        return write_text(self.model_source_path(source.kind), source.text)

    def read_model_source(self) -> ModelSource | None:
        """The model's saved source (None for registered models and runs older than the copy)."""
        for kind in MODEL_SOURCE_FILES:
            text = self._text(self.model_source_path(kind), errors="replace")
            if text is not None:
                return ModelSource(kind, text, str(self.model_source_path(kind)))
        return None

    def write_readme(self, markdown: str) -> Path:
        """README.md: what the run is and how to reproduce it (see `runs.readme`)."""
        return write_text(self.readme_path, markdown.rstrip("\n") + "\n")

    def read_readme(self) -> str | None:
        return self._text(self.readme_path)

    # -- metrics.csv, iterations.csv -----------------------------------------------------
    def write_epochs(self, rows: Sequence[dict[str, Any]]) -> None:
        write_text(self.metrics_path, csv_text(rows, EPOCH_COLUMNS))

    def read_epochs(self) -> list[dict[str, float | None]]:
        return read_csv_rows(self.metrics_path) if self.metrics_path.is_file() else []

    def read_epoch_column(self, column: str) -> list[float | None]:
        """One column of metrics.csv, a value per epoch (None where empty or absent): what a
        listing of many runs needs, without building a dict per epoch."""
        text = self._text(self.metrics_path)
        return [] if text is None else read_csv_column(self.metrics_path, text, column)

    def write_iterations(self, rows: Sequence[dict[str, Any]]) -> None:
        write_text(self.iterations_path, csv_text(rows, ITERATION_COLUMNS))

    def read_iterations(self) -> list[dict[str, float | None]]:
        return read_csv_rows(self.iterations_path) if self.iterations_path.is_file() else []

    # -- metrics.json, predictions.csv ---------------------------------------------------
    def write_test_metrics(self, metrics: dict[str, Any], tag: str | None = None) -> None:
        self._write_json(self.test_metrics_path(tag), json_safe(metrics))

    def read_test_metrics(self, tag: str | None = None) -> dict[str, Any] | None:
        """metrics.json (or metrics-<tag>.json); None before the run is evaluated."""
        metrics = self._read_json(self.test_metrics_path(tag))
        if metrics is not None and not isinstance(metrics, dict):
            raise CnnlabError(f"{self.test_metrics_path(tag)}: expected a JSON object")
        return metrics

    def write_predictions(self, predictions: Predictions, tag: str | None = None) -> Path:
        return save_predictions(self.predictions_path(tag), predictions)

    def write_leaderboard(self, predictions: Predictions, tag: str | None = None) -> Path:
        """leaderboard.csv (or leaderboard-<tag>.csv): `id,label` with class indices."""
        return save_leaderboard(self.leaderboard_path(tag), predictions)

    def read_predictions(self, tag: str | None = None) -> Predictions | None:
        """predictions.csv (or predictions-<tag>.csv); None before the run is evaluated."""
        path = self.predictions_path(tag)
        return read_predictions(path) if path.is_file() else None

    def write_tracker_run(self, tracked: TrackerRun) -> None:
        self._write_json(self.mlflow_path, asdict(tracked))

    def read_tracker_run(self) -> TrackerRun | None:
        """The MLflow run this run logs into; None before it has one."""
        data = self._read_json(self.mlflow_path)
        if data is None:
            return None
        try:
            return TrackerRun(**{key: str(data[key]) for key in TrackerRun.__dataclass_fields__})
        except (KeyError, TypeError):
            raise CnnlabError(
                f"{self.mlflow_path}: damaged (expected a mapping with tracking_uri, "
                f"experiment_id and run_id, got {str(data)[:80]})"
            ) from None

    # -- train.log -----------------------------------------------------------------------
    def log(self, line: str) -> None:
        """Append one line to train.log (a line is either there whole or not at all)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as stream:
            stream.write(line.rstrip("\n") + "\n")
            stream.flush()

    def log_test_accuracy(self, accuracy: float) -> None:
        """End train.log with its one `test accuracy:` line (replacing an earlier one)."""
        line = f"{RESULT_PREFIX}{accuracy:.4f}"
        lines = (self._text(self.log_path) or "").splitlines()
        if lines and lines[-1] == line:
            return
        kept = [text for text in lines if not text.startswith(RESULT_PREFIX)]
        if len(kept) == len(lines):
            self.log(line)
        else:
            write_text(self.log_path, "\n".join([*kept, line]) + "\n")

    def read_log_tail(self, lines: int) -> tuple[str, ...]:
        text = self._text(self.log_path, errors="replace")
        return tuple(text.splitlines()[-lines:]) if text else ()

    # -- helpers -------------------------------------------------------------------------
    def _text(self, path: Path, errors: str = "strict") -> str | None:
        try:
            return read_text_file(path, errors)
        except (OSError, UnicodeDecodeError) as error:
            raise CnnlabError(f"{path}: unreadable: {error}") from None

    def _read_json(self, path: Path) -> Any:
        text = self._text(path)
        if text is None:
            return None
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError) as error:
            raise CnnlabError(f"{path}: damaged (not valid JSON: {error})") from None

    def _write_json(self, path: Path, data: Any) -> None:
        write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def claim_run_dir(parent: Path, name: str) -> tuple[RunDir, str | None]:
    """A directory for a new run called `name`, and a note when it is not simply `parent/name`.

    A run of that name that failed before its first checkpoint is replaced (there is nothing
    in it to resume); any other taken name gives `name-2`, `name-3`...
    """
    existing = RunDir(Path(parent) / name)
    if existing.path.is_dir() and not existing.last_checkpoint.is_file():
        try:
            failed = existing.read_status().get("status") == "failed"
        except CnnlabError:
            failed = False
        if failed:
            shutil.rmtree(existing.path)
            existing.path.mkdir()
            return existing, f"replaced {existing.path}: a failed run with no checkpoint"
    run = new_run_dir(parent, name)
    if run.path.name != name:
        return run, f"{existing.path} is taken; this run is {run.path}"
    return run, None


def new_run_dir(parent: Path, name: str) -> RunDir:
    """A fresh directory `parent/name`, or `name-2`, `name-3`... when that one is taken."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    candidate, number = parent / name, 1
    while True:
        try:
            candidate.mkdir()
            return RunDir(candidate)
        except FileExistsError:
            number += 1
            candidate = parent / f"{name}-{number}"
