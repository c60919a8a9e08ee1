"""The sweep's results table, rebuilt from its run directories: results.csv and results.md.

Both files are written atomically and from scratch each time, so a restarted sweep never
duplicates a row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnlab.atomic import write_text
from cnnlab.errors import CnnlabError
from cnnlab.runs import RunDir
from cnnlab.runs.rundir import csv_text
from cnnlab.sweep.epochs import EPOCH_METRICS, EpochCurves, epoch_table
from cnnlab.sweep.grid import SweepRun, key_labels, value_label
from cnnlab.sweep.spec import METRICS, SweepSpec

TIME = "time_s"  # training time in seconds (final_metrics.json train_seconds)
HEADERS = {TIME: "time (s)"}  # results.md's header for a CSV column, where they differ


def _records(folder: RunDir) -> dict[str, dict[str, Any]]:
    """The run's test metrics, final numbers and last epoch row ({} where absent or damaged)."""
    records: dict[str, dict[str, Any]] = {}
    readers = {
        "test": folder.read_test_metrics,
        "final": folder.read_final,
        "last_epoch": lambda: (folder.read_epochs() or [{}])[-1],
    }
    for source, read in readers.items():
        try:
            records[source] = read() or {}
        except CnnlabError:
            records[source] = {}
    return records


def _metric(name: str, records: dict[str, dict[str, Any]]) -> float | None:
    """A results column's value (see `METRICS` for where each is read)."""
    source, key = METRICS[name]
    value = records[source].get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def run_outcome(folder: RunDir, metrics: Sequence[str]) -> dict[str, Any]:
    """What a run's directory says: status, `metrics`, epochs and time (plain JSON values, so a
    shared sweep's storage can hold them too)."""
    state = folder.read_status()
    status = state.get("status", "unknown")
    if status == "unknown" and not folder.path.exists():
        status = "not run"
    if status == "failed":
        status = f"failed: {state.get('reason', 'unknown reason')}"
    records = _records(folder)
    outcome: dict[str, Any] = {"status": status}
    outcome.update({name: _metric(name, records) for name in metrics})
    outcome["epochs"] = state.get("epoch")
    seconds = records["final"].get("train_seconds")
    outcome[TIME] = round(seconds, 2) if isinstance(seconds, (int, float)) else None
    return outcome


def point_row(spec: SweepSpec, run: SweepRun, outcome: dict[str, Any]) -> dict[str, Any]:
    """One table row: the run's name, swept values and seed, then its outcome's columns."""
    row: dict[str, Any] = {"run": run.name}
    row.update({key: value for key, value in run.values})
    row.update(seed=run.seed, status=outcome.get("status", "not run"))
    row.update({name: outcome.get(name) for name in [*spec.metrics, "epochs", TIME]})
    return row


def run_row(spec: SweepSpec, run: SweepRun, runs_dir: Path) -> dict[str, Any]:
    """One table row from a run's directory: swept values, seed, status, metrics, epochs, time."""
    return point_row(spec, run, run_outcome(RunDir(runs_dir / run.name), spec.metrics))


def columns(spec: SweepSpec) -> list[str]:
    """The CSV columns: run, each swept key, seed, status, the metrics, epochs, time_s."""
    return ["run", *spec.keys, "seed", "status", *spec.metrics, "epochs", TIME]


def _cell(rows: Sequence[dict], metric: str) -> str:
    """mean ± std (sample) over the rows' values, the lone value, or the rows' statuses."""
    values = [row[metric] for row in rows if row.get(metric) is not None]
    if not values:
        return ", ".join(sorted({row["status"].split(":")[0] for row in rows})) or "-"
    mean = sum(values) / len(values)
    if len(rows) == 1:
        return f"{mean:.4f}"
    std = (
        math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        if len(values) > 1
        else 0.0
    )
    missing = f" ({len(values)}/{len(rows)})" if len(values) < len(rows) else ""
    return f"{mean:.4f} ± {std:.4f}{missing}"


def _distinct(values: Sequence[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def pivot(spec: SweepSpec, rows: Sequence[dict], metric: str) -> list[list[str]]:
    """A pivot of `metric`: first swept key as rows, the other keys as columns; header first."""
    keys = spec.keys
    labels = key_labels(keys)
    row_key = keys[0] if keys else None
    col_keys = keys[1:]

    def row_value(row: dict) -> Any:
        return value_label(row[row_key]) if row_key else spec.name

    def col_value(row: dict) -> str:
        return ", ".join(value_label(row[k]) for k in col_keys) if col_keys else metric

    row_values = _distinct([row_value(r) for r in rows])
    col_values = _distinct([col_value(r) for r in rows])
    corner = labels[row_key] if row_key else "sweep"
    if col_keys:
        corner += " \\ " + ", ".join(labels[k] for k in col_keys)
    table = [[corner, *col_values]]
    for value in row_values:
        line = [str(value)]
        for column in col_values:
            group = [r for r in rows if row_value(r) == value and col_value(r) == column]
            line.append(_cell(group, metric) if group else "-")
        table.append(line)
    return table


def markdown_table(table: Sequence[Sequence[Any]]) -> str:
    """Rows (header first) as a GitHub-flavoured Markdown table, each column padded to its
    widest cell so that it also reads aligned as plain text."""
    text = [
        [
            ("" if cell is None else f"{cell:.4f}" if isinstance(cell, float) else str(cell))
            .replace("|", "\\|")
            .replace("\n", " ")
            for cell in row
        ]
        for row in table
    ]
    widths = [max(3, *(len(row[i]) for row in text)) for i in range(len(text[0]))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(text[0]), rule, *(line(row) for row in text[1:])])


def _runs_section(spec: SweepSpec, rows: Sequence[dict]) -> list[str]:
    """Every run in one table; a failed run's reason is given in full below it, numbered."""
    names = columns(spec)
    reasons: list[str] = []
    cells = []
    for row in rows:
        line = []
        for name in names:
            value = row.get(name)
            if name in spec.keys:
                value = value_label(value)
            elif name == "status" and value.startswith("failed: "):
                reasons.append(f"{len(reasons) + 1}. {row['run']}: {value[len('failed: ') :]}")
                value = f"failed ({len(reasons)})"
            elif name == TIME and value is not None:
                value = f"{value:.1f}"
            line.append(value)
        cells.append(line)
    header = [HEADERS.get(name, name) for name in names]
    parts = ["", "## Runs", "", markdown_table([header, *cells])]
    if reasons:
        parts += ["", "Why runs failed:", "", *reasons]
    return parts


def _epochs_section(spec: SweepSpec, curves: EpochCurves | None) -> list[str]:
    """The per-epoch accuracy of each variant, and which accuracy it is."""
    if curves is None:
        return []
    seeds = " (mean over seeds)" if spec.seeds and len(spec.seeds) > 1 else ""
    return [
        "",
        f"## Per-epoch {curves.metric.replace('_', ' ')}",
        "",
        f"The {EPOCH_METRICS[curves.metric]}{seeds}; figure: figures/epoch_accuracy.png.",
        "",
        markdown_table(epoch_table(curves)),
    ]


def results_markdown(
    spec: SweepSpec, rows: Sequence[dict], curves: EpochCurves | None = None, note: str = ""
) -> str:
    """results.md: one pivot per metric (mean ± std over seeds), the per-epoch accuracy of each
    variant, then every run (failure reasons in full below); `note` (a partial table's
    warning) goes under the title."""
    seeds = len(spec.seeds) if spec.seeds else 1
    parts = [f"# Sweep {spec.name}", ""] + ([f"**{note}**", ""] if note else [])
    parts.append(
        f"{len(rows)} run{'s' if len(rows) != 1 else ''}; "
        + (f"mean ± std over {seeds} seeds." if seeds > 1 else "one seed per grid point.")
    )
    for metric in spec.metrics:
        parts += ["", f"## {metric}", "", markdown_table(pivot(spec, rows, metric))]
    parts += _epochs_section(spec, curves)
    parts += [*_runs_section(spec, rows), ""]
    return "\n".join(parts)


def write_rows(
    spec: SweepSpec,
    rows: Sequence[dict],
    folder: Path,
    curves: EpochCurves | None = None,
    note: str = "",
) -> tuple[Path, Path]:
    """Write `rows` as results.csv and results.md into `folder` (with `curves`, the per-epoch
    table too; with `note`, a warning under results.md's title)."""
    plain = [{k: (value_label(v) if k in spec.keys else v) for k, v in row.items()} for row in rows]
    csv_path = write_text(Path(folder) / "results.csv", csv_text(plain, columns(spec)))
    markdown_path = write_text(
        Path(folder) / "results.md", results_markdown(spec, rows, curves, note)
    )
    return csv_path, markdown_path
