"""Per-epoch accuracy of each variant of a sweep, read from its runs' metrics.csv.

A variant is one grid point; its curve is the mean over seeds after each epoch. The column
read is the first that any run recorded of: test accuracy (runs with train.watch_test),
validation accuracy, training accuracy (measured while the weights moved).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cnnlab.errors import CnnlabError
from cnnlab.runs import RunDir
from cnnlab.sweep.grid import SweepRun, key_labels, value_label
from cnnlab.sweep.spec import SweepSpec

# metrics.csv column -> what the per-epoch table says it shows
EPOCH_METRICS = {
    "test_accuracy": "test accuracy after each epoch (recorded with train.watch_test)",
    "val_accuracy": "validation accuracy after each epoch (no run recorded per-epoch test "
    "accuracy; set train.watch_test: true for it)",
    "train_accuracy": "training accuracy of each epoch, measured while the weights moved (no run "
    "recorded a validation or per-epoch test accuracy)",
}


@dataclass(frozen=True)
class EpochCurves:
    """One curve per variant: `values[variant][epoch - 1]`, None where no run recorded it."""

    metric: str  # the metrics.csv column, a key of EPOCH_METRICS
    values: dict[str, list[float | None]]

    @property
    def epochs(self) -> int:
        return max((len(curve) for curve in self.values.values()), default=0)


def variant_label(spec: SweepSpec, run: SweepRun) -> str:
    """`model=conv1, lr=0.01` (every swept value but the seed); the sweep's name if none."""
    labels = key_labels(spec.keys)
    return ", ".join(f"{labels[k]}={value_label(v)}" for k, v in run.values) or spec.name


def epoch_rows(folder: RunDir) -> list[dict]:
    """A run's per-epoch rows, only the epoch and the columns a curve may read (plain JSON
    values, so a shared sweep's storage can hold them too)."""
    try:
        rows = folder.read_epochs()
    except CnnlabError:  # a damaged metrics.csv leaves the run out of the curves
        return []
    return [{k: row.get(k) for k in ("epoch", *EPOCH_METRICS) if k in row} for row in rows]


def epoch_curves(spec: SweepSpec, runs: Sequence[SweepRun], runs_dir: Path) -> EpochCurves | None:
    """Each variant's mean per-epoch accuracy over seeds; None when no run has an epoch row."""
    rows = {run.name: epoch_rows(RunDir(Path(runs_dir) / run.name)) for run in runs}
    return curves_of(spec, runs, rows)


def curves_of(
    spec: SweepSpec, runs: Sequence[SweepRun], rows: dict[str, list[dict]]
) -> EpochCurves | None:
    """The curves from each run's epoch rows (`rows[run name]`, see `epoch_rows`)."""
    recorded = {
        k for table in rows.values() for row in table for k, v in row.items() if v is not None
    }
    metric = next((key for key in EPOCH_METRICS if key in recorded), None)
    if metric is None:
        return None
    found: dict[str, dict[int, list[float]]] = {}
    for run in runs:
        by_epoch = found.setdefault(variant_label(spec, run), {})
        for row in rows.get(run.name, []):
            if row.get(metric) is not None and row.get("epoch") is not None:
                by_epoch.setdefault(int(row["epoch"]), []).append(float(row[metric]))
    last = max((epoch for curve in found.values() for epoch in curve), default=0)
    values = {
        label: [sum(curve[e]) / len(curve[e]) if e in curve else None for e in range(1, last + 1)]
        for label, curve in found.items()
    }
    return EpochCurves(metric, values)


def epoch_table(curves: EpochCurves) -> list[list[str]]:
    """Rows = variants, columns = epochs; header first."""
    table = [["variant \\ epoch", *(str(e) for e in range(1, curves.epochs + 1))]]
    for label, curve in curves.values.items():
        cells = [f"{v:.4f}" if v is not None else "-" for v in curve]
        table.append([label, *cells, *["-"] * (curves.epochs - len(curve))])
    return table
