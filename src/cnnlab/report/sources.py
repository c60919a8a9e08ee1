"""What a run directory holds, read once and leniently: a missing or unreadable file is noted, not fatal."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cnnlab.errors import CnnlabError
from cnnlab.runs.rundir import RunDir, read_csv_rows

LOG_TAIL = 20  # lines of train.log shown
FIGURE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg")
# the figures visualize writes, in reading order, with their captions
FIGURE_CAPTIONS = {
    "loss": "Loss: training per iteration (with its moving average) and validation per epoch",
    "accuracy": "Accuracy per epoch, training and validation",
    "f1": "Macro F1 per epoch, training and validation",
    "lr": "Learning rate",
    "lr_find": "Learning-rate range test: smoothed loss against an exponentially rising rate, "
    "with the two suggested rates (steepest descent, minimum / 10) dashed",
    "confusion_matrix": "Confusion matrix (counts; rows true, columns predicted)",
    "confusion_matrix_normalized": "Confusion matrix, normalised per true class",
    "roc": "ROC curves, one-vs-rest per class, with micro and macro averages",
    "filters": "First-layer filters",
    "feature_maps": "Feature maps of the first two conv layers",
    "misclassified": "Misclassified test images: true and predicted label, confidence",
    "gradcam": "Grad-CAM of misclassified test images",
}


@dataclass(frozen=True)
class RunRecord:
    """The readable contents of one run directory; absent parts are None or empty."""

    path: Path
    config_text: str | None  # config.yaml as written
    config: dict[str, Any]  # its parsed form ({} when missing)
    status: dict[str, Any]  # status.json ({"status": "unknown"} when missing)
    env: dict[str, Any]  # env.json
    final: dict[str, Any]  # final_metrics.json: train/test accuracy, train_seconds
    metrics: dict[str, Any] | None  # metrics.json from evaluate
    epochs: list[dict[str, float | None]]  # metrics.csv rows
    figures: tuple[Path, ...]  # figure files in reading order
    log_tail: tuple[str, ...]
    problems: tuple[str, ...]  # files present but unreadable

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model_name(self) -> str:
        return str((self.config.get("model") or {}).get("name", "?"))

    @property
    def dataset_name(self) -> str:
        return str((self.config.get("data") or {}).get("dataset", "?"))

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """From metrics.json when evaluated, else None (the config may name only indices)."""
        if self.metrics and self.metrics.get("per_class"):
            return tuple(str(entry["class"]) for entry in self.metrics["per_class"])
        return None

    @property
    def num_classes(self) -> int | None:
        names = self.class_names
        if names:
            return len(names)
        classes = (self.config.get("data") or {}).get("classes")
        return len(classes) if classes else None

    @property
    def train_accuracy(self) -> float | None:
        """Of the best checkpoint after training, else the last epoch's running value."""
        if self.final.get("train_accuracy") is not None:
            return self.final["train_accuracy"]
        return self.epochs[-1].get("train_accuracy") if self.epochs else None

    @property
    def test_accuracy(self) -> float | None:
        if self.metrics and self.metrics.get("accuracy") is not None:
            return self.metrics["accuracy"]
        return self.final.get("test_accuracy")

    @property
    def train_seconds(self) -> float | None:
        if self.final.get("train_seconds") is not None:
            return self.final["train_seconds"]
        times = [row.get("epoch_seconds") for row in self.epochs]
        return sum(t for t in times if t is not None) if times else None


def _json(path: Path, problems: list[str]) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        problems.append(f"{path.name}: {error}")
        return None


def _config(run: RunDir, problems: list[str]) -> tuple[str | None, dict[str, Any]]:
    if not run.config_path.is_file():
        return None, {}
    text = run.config_path.read_text(encoding="utf-8", errors="replace")
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as error:
        problems.append(f"{run.config_path.name}: {error}")
        return text, {}
    return text, parsed if isinstance(parsed, dict) else {}


def _epochs(run: RunDir, problems: list[str]) -> list[dict[str, float | None]]:
    if not run.metrics_path.is_file():
        return []
    try:
        return read_csv_rows(run.metrics_path)
    except (OSError, ValueError, csv.Error) as error:
        problems.append(f"{run.metrics_path.name}: {error}")
        return []


def figure_files(folder: Path) -> tuple[Path, ...]:
    """Image files under `folder`: the known figures first, in their order, then the rest by name.

    A PNG is preferred over an SVG of the same name (the report embeds one of each figure).
    """
    if not folder.is_dir():
        return ()
    files = sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in FIGURE_SUFFIXES and p.is_file()
    )
    chosen: dict[Path, Path] = {}
    for path in files:
        key = path.with_suffix("")
        if key not in chosen or path.suffix.lower() == ".png":
            chosen[key] = path
    order = {name: index for index, name in enumerate(FIGURE_CAPTIONS)}
    return tuple(
        sorted(
            chosen.values(),
            key=lambda p: (order.get(p.stem, len(order)), str(p.relative_to(folder)).lower()),
        )
    )


def caption(path: Path) -> str:
    """The caption of a figure file: a known description, else its name in words."""
    return FIGURE_CAPTIONS.get(
        path.stem, path.stem.replace("_", " ").replace("-", " ").capitalize()
    )


def read_run(run_dir: Path) -> RunRecord:
    """Everything readable in `run_dir`, never raising for a missing or damaged part."""
    run = RunDir(Path(run_dir))
    problems: list[str] = []
    config_text, config = _config(run, problems)
    metrics = _json(run.path / "metrics.json", problems)
    log_tail: tuple[str, ...] = ()
    if run.log_path.is_file():
        lines = run.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        log_tail = tuple(lines[-LOG_TAIL:])
    return RunRecord(
        path=run.path,
        config_text=config_text,
        config=config,
        status=_json(run.status_path, problems) or {"status": "unknown"},
        env=_json(run.env_path, problems) or {},
        final=_json(run.path / "final_metrics.json", problems) or {},
        metrics=metrics if isinstance(metrics, dict) else None,
        epochs=_epochs(run, problems),
        figures=figure_files(run.figures),
        log_tail=log_tail,
        problems=tuple(problems),
    )


def check_run_dirs(run_dirs: Sequence[Path]) -> list[Path]:
    """The run directories as paths; raises when one is not a cnnlab run."""
    paths = [Path(path) for path in run_dirs]
    if not paths:
        raise CnnlabError("a report needs at least one run directory; none was given")
    for path in paths:
        if not path.is_dir():
            raise CnnlabError(f"run directory {path} does not exist")
        if not (path / "config.yaml").is_file():
            raise CnnlabError(f"{path} is not a cnnlab run: config.yaml is missing")
    return paths
