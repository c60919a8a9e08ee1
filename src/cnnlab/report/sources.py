"""What a run directory holds for a report, read once through `RunDir` and leniently: a missing
or damaged file is noted as a problem and left out, never fatal."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from cnnlab.errors import CnnlabError
from cnnlab.report.diagnosis import Evaluated, Finding, diagnose
from cnnlab.runs import RunDir
from cnnlab.visualize.figure_table import order

LOG_TAIL = 20  # lines of train.log shown
FIGURE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg")
T = TypeVar("T")


@dataclass(frozen=True)
class RunRecord:
    """The readable contents of one run directory; absent parts are None or empty."""

    path: Path
    config_text: str | None  # config.yaml as written
    config: dict[str, Any]  # its parsed form ({} when missing)
    status: dict[str, Any]  # status.json ({"status": "unknown"} when missing)
    env: dict[str, Any]  # env.json
    final: dict[str, Any]  # final_metrics.json: training time, final weights' train accuracy
    metrics: dict[str, Any] | None  # metrics.json: evaluate's test metrics
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
    def final_train_accuracy(self) -> float | None:
        """Accuracy of the evaluated weights on training images (0.1 runs: `train_accuracy`)."""
        value = self.final.get("final_train_accuracy", self.final.get("train_accuracy"))
        return value if isinstance(value, int | float) else None

    @property
    def running_train_accuracy(self) -> float | None:
        """The last epoch's training accuracy, measured while the weights moved."""
        return self.epochs[-1].get("train_accuracy") if self.epochs else None

    @property
    def test_accuracy(self) -> float | None:
        """evaluate's test accuracy (metrics.json): the run's one test result."""
        return self.metrics.get("accuracy") if self.metrics else None

    @property
    def test_f1(self) -> float | None:
        return self.metrics.get("f1_macro") if self.metrics else None

    @property
    def evaluated(self) -> Evaluated:
        """What the evaluated weights scored on training and test images, for the diagnosis."""
        supports = [entry.get("support") for entry in (self.metrics or {}).get("per_class") or ()]
        supports = [s for s in supports if isinstance(s, int | float)]
        sizes = self.final.get("split_sizes") or {}
        return Evaluated(
            train_accuracy=self.final_train_accuracy,
            train_images=_count(self.final.get("final_train_images")),
            test_accuracy=self.test_accuracy,
            test_images=_count((self.metrics or {}).get("num_samples")),
            majority=max(supports) / sum(supports) if supports and sum(supports) else None,
            epoch=_count(self.status.get("best_epoch")),
            val_images=_count(sizes.get("val") if isinstance(sizes, dict) else None),
        )

    def diagnosis(self) -> list[Finding]:
        """The diagnosis of this run: its curves, status and evaluated accuracies."""
        return diagnose(self.epochs, self.num_classes, self.status, self.evaluated)

    @property
    def train_seconds(self) -> float | None:
        if self.final.get("train_seconds") is not None:
            return self.final["train_seconds"]
        times = [row.get("epoch_seconds") for row in self.epochs]
        return sum(t for t in times if t is not None) if times else None


def _count(value: Any) -> int | None:
    """A positive count read from JSON, else None."""
    return int(value) if isinstance(value, int | float) and value > 0 else None


def figure_files(folder: Path) -> tuple[Path, ...]:
    """Image files under `folder` in the figure table's order, then the rest by name.

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
    return tuple(sorted(chosen.values(), key=lambda p: (order(p.stem), str(p).lower())))


def _lenient(read: Callable[[], T], default: T, problems: list[str]) -> T:
    """`read()`, or `default` with the problem noted when the file is damaged."""
    try:
        value = read()
    except CnnlabError as error:
        problems.append(str(error))
        return default
    return default if value is None else value


def _parsed_config(text: str | None, problems: list[str], path: Path) -> dict[str, Any]:
    if not text:
        return {}
    try:
        parsed = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as error:
        problems.append(f"{path.name}: {error}")
        return {}
    return parsed if isinstance(parsed, dict) else {}


def read_run(run_dir: Path) -> RunRecord:
    """Everything readable in `run_dir`, never raising for a missing or damaged part."""
    run = RunDir(Path(run_dir))
    problems: list[str] = []
    config_text = _lenient(run.read_config_text, None, problems)
    metrics = _lenient(run.read_test_metrics, None, problems)
    return RunRecord(
        path=run.path,
        config_text=config_text,
        config=_parsed_config(config_text, problems, run.config_path),
        status=_lenient(run.read_status, {"status": "unknown"}, problems),
        env=_lenient(run.read_env, {}, problems),
        final=_lenient(run.read_final, {}, problems),
        metrics=metrics,
        epochs=_lenient(run.read_epochs, [], problems),
        figures=figure_files(run.figures),
        log_tail=_lenient(lambda: run.read_log_tail(LOG_TAIL), (), problems),
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
        if not RunDir(path).exists():
            raise CnnlabError(f"{path} is not a cnnlab run: config.yaml is missing")
    return paths
