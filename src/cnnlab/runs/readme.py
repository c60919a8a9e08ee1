"""README.md of a run directory: what the run is, where it stands, and the command that trains it
again. Rewritten from the run's own files whenever its status or its test result changes
(training starts and ends, `cnnlab eval`), so it never disagrees with them.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from cnnlab.config import ExperimentConfig
from cnnlab.errors import CnnlabError
from cnnlab.models.source import class_name
from cnnlab.runs.rundir import MODEL_SOURCE_FILES, SETTLED, RunDir

SCRATCH_PREFIX = "scratch:"  # model names of the NumPy engine, trained by `cnnlab scratch train`
RERUN_SUFFIX = "-rerun"  # the reproduced run's name: <name>-rerun (then -rerun-2, ...)


def _path(path: Path) -> str:
    """An absolute path, quoted for a POSIX shell, so the command works from any directory."""
    return shlex.quote(str(Path(path).resolve()))


def reproduce_command(run: RunDir, config: ExperimentConfig) -> str:
    """`cnnlab train <run>/config.yaml --out <parent> --name <name>-rerun` (and the kept copy of
    a user's model file, so the code trained is the code this run trained)."""
    verb = "scratch train" if config.model.name.startswith(SCRATCH_PREFIX) else "train"
    parts = [f"cnnlab {verb}", _path(run.config_path)]
    source = run.model_source_path("python")
    name = class_name(config.model.name)
    if name is not None and source.is_file():
        parts.append(f"--model {_path(source)}:{name}")
    spec = run.model_source_path("spec")
    if spec.is_file() and config.model.name.lower().endswith((".yaml", ".yml")):
        parts.append(f"--model {_path(spec)}")
    parts += [
        f"--out {_path(run.path.parent)}",
        f"--name {shlex.quote(run.path.name + RERUN_SUFFIX)}",
    ]
    return " ".join(parts)


def _epochs(count: Any) -> str:
    return f"{count} epoch" + ("" if count == 1 else "s")


def _status_line(status: dict[str, Any]) -> str:
    """'finished after 3 epochs (best epoch 2)', 'failed at epoch 1: <reason>' and the like."""
    text = str(status.get("status", "unknown"))
    if status.get("epoch") is not None:
        settled = text in SETTLED or text == "interrupted"
        text += f" after {_epochs(status['epoch'])}" if settled else f" at epoch {status['epoch']}"
    if status.get("best_epoch") is not None:
        text += f" (best epoch {status['best_epoch']})"
    if status.get("reason"):
        text += f": {status['reason']}"
    return text


def _number(value: Any, fmt: str = ".4f") -> str | None:
    return format(value, fmt) if isinstance(value, int | float) else None


def _results(final: dict[str, Any], metrics: dict[str, Any] | None) -> list[str]:
    """Table rows of the key results that exist yet."""
    metrics = metrics or {}
    samples = metrics.get("num_samples")
    rows = [
        ("test accuracy", _number(metrics.get("accuracy")), f" on {samples} test images"),
        ("test macro F1", _number(metrics.get("f1_macro")), ""),
        (
            "train accuracy (evaluated weights)",
            _number(final.get("final_train_accuracy")),
            f" on {final.get('final_train_images')} training images",
        ),
        ("training time", _number(final.get("train_seconds"), ".1f"), " s"),
    ]
    return [f"| {name} | {value}{unit} |" for name, value, unit in rows if value is not None]


def readme_markdown(run: RunDir) -> str:
    """The README of `run`, from its config, status, final and test metrics."""
    config = run.read_config()
    status = run.read_status()
    settled = status.get("status") in SETTLED
    classes = ", ".join(map(str, config.data.classes)) if config.data.classes else "all"
    lines = [
        f"# Run `{run.path.name}`",
        "",
        f"`{config.model.name}` trained on `{config.data.dataset}` (classes: {classes}) for "
        f"{_epochs(config.train.epochs)} with {config.optim.optimizer}, lr {config.optim.lr:g}, "
        f"batch {config.train.batch_size}, seed {config.train.seed}.",
        "",
        f"Status: **{_status_line(status)}**.",
    ]
    metrics = run.read_test_metrics()
    results = _results(run.read_final(), metrics)
    if results:
        lines += ["", "| result | value |", "| --- | ---: |", *results]
    if settled and metrics is None:
        lines += ["", f"Not evaluated yet: `cnnlab eval {_path(run.path)}`."]
    lines += [
        "",
        "## Reproduce",
        "",
        "Every setting, the seed included, is in `config.yaml`; this trains a new run beside "
        f"this one, `{run.path.name}{RERUN_SUFFIX}`:",
        "",
        "```bash",
        reproduce_command(run, config),
        "```",
    ]
    if any((run.path / name).is_file() for name in MODEL_SOURCE_FILES.values()):
        lines += ["", "It trains the copy of the model's file that this run kept."]
    if not settled and not config.model.name.startswith(SCRATCH_PREFIX):
        lines += ["", f"Continue this run instead: `cnnlab train --resume {_path(run.path)}`."]
    lines += [
        "",
        "## Files",
        "",
        "- `report.html` / `report.md`: the full report (diagnosis, metrics, figures, model, data)",
        "- `config.yaml`: every setting; `status.json`: where the run stands",
        "- `metrics.csv`: one row per epoch; `metrics.json`, `predictions.csv`: the test result",
        "- `best.pt` / `last.pt` (`.npz` for the NumPy engine): the best and the last weights",
        "- `train.log`: what happened, the test accuracy last",
    ]
    return "\n".join(lines) + "\n"


def refresh_readme(run: RunDir) -> Path | None:
    """Rewrite README.md from the run's files; None when they cannot say what the run is (no
    readable config.yaml) or the disk refuses the write: the README never stops a run."""
    try:
        return run.write_readme(readme_markdown(run))
    except (CnnlabError, OSError):
        return None
