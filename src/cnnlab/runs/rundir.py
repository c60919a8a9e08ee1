"""The run directory: named files, each written atomically, so a crash never truncates one."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cnnlab.atomic import write_text
from cnnlab.errors import CnnlabError

STATUSES = ("running", "finished", "early_stopped", "diverged", "interrupted", "failed")
EPOCH_COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",
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


def csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV text with a header; missing values are empty cells."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in columns})
    return buffer.getvalue()


def read_csv_rows(path: Path) -> list[dict[str, float | None]]:
    """A CSV written by `csv_text` back as rows of floats (empty cells are None)."""
    with open(path, newline="", encoding="utf-8") as stream:
        return [
            {key: (float(value) if value != "" else None) for key, value in row.items()}
            for row in csv.DictReader(stream)
        ]


@dataclass(frozen=True)
class RunDir:
    """Paths and writers of one run's directory."""

    path: Path

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def iterations_path(self) -> Path:
        return self.path / "iterations.csv"

    @property
    def log_path(self) -> Path:
        return self.path / "train.log"

    @property
    def best_checkpoint(self) -> Path:
        return self.path / "best.pt"

    @property
    def last_checkpoint(self) -> Path:
        return self.path / "last.pt"

    @property
    def best_npz(self) -> Path:
        """The best weights of a scratch (NumPy engine) run, which has no best.pt."""
        return self.path / "best.npz"

    @property
    def env_path(self) -> Path:
        return self.path / "env.json"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    def write_config(self, text: str) -> None:
        write_text(self.config_path, text)

    def read_config(self) -> dict:
        if not self.config_path.is_file():
            raise CnnlabError(
                f"{self.path} is not a cnnlab run: {self.config_path.name} is missing"
            )
        try:
            config = yaml.safe_load(self.config_path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise CnnlabError(f"{self.config_path}: not a readable YAML config: {error}") from None
        if not isinstance(config, dict):
            raise CnnlabError(
                f"{self.config_path}: expected a mapping of config sections, got {type(config).__name__}"
            )
        return config

    def write_status(self, status: str, **details: Any) -> None:
        assert status in STATUSES, status
        write_text(self.status_path, json.dumps({"status": status, **details}, indent=2) + "\n")

    def read_status(self) -> dict[str, Any]:
        if not self.status_path.is_file():
            return {"status": "unknown"}
        return json.loads(self.status_path.read_text(encoding="utf-8"))

    def write_json(self, name: str, data: Any) -> None:
        write_text(self.path / name, json.dumps(data, indent=2, default=str) + "\n")

    def write_metrics(self, rows: Sequence[dict[str, Any]]) -> None:
        write_text(self.metrics_path, csv_text(rows, EPOCH_COLUMNS))

    def write_iterations(self, rows: Sequence[dict[str, Any]]) -> None:
        write_text(self.iterations_path, csv_text(rows, ITERATION_COLUMNS))

    def log_result(self, line: str) -> None:
        """Append a result line unless the log already ends with it (re-evaluation is idempotent)."""
        if self.log_path.is_file():
            lines = self.log_path.read_text(encoding="utf-8").splitlines()
            if lines and lines[-1] == line:
                return
        self.log(line)

    def log(self, line: str) -> None:
        """Append one line to train.log (a line is either there whole or not at all)."""
        with open(self.log_path, "a", encoding="utf-8") as stream:
            stream.write(line.rstrip("\n") + "\n")
            stream.flush()


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
