"""Run a sweep's grid into one directory: skip settled runs, mark failures, go on.

`<out>/<sweep name>/runs/<run name>` holds each run; the results table, figures and
comparison report are rebuilt from those directories after every sweep, so a restarted
sweep resumes where it stopped and never duplicates rows.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import shutil
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cnnlab import experiment
from cnnlab.config import ExperimentConfig, Overrides
from cnnlab.errors import ConfigError
from cnnlab.report import write_comparison
from cnnlab.runs import SETTLED, RunDir
from cnnlab.sweep.checks import check_kept_runs, check_needs, check_pretrained
from cnnlab.sweep.epochs import EpochCurves, epoch_curves
from cnnlab.sweep.figures import write_sweep_figures
from cnnlab.sweep.grid import SweepRun, expand
from cnnlab.sweep.spec import SweepSpec, load_spec
from cnnlab.sweep.table import run_row, write_rows


@dataclass(frozen=True)
class SweepResult:
    """What a sweep wrote: its directory, one row per run, tables, figures and comparison page."""

    sweep_dir: Path
    rows: list[dict]
    csv_path: Path
    markdown_path: Path
    figures: list[Path]
    comparison: Path | None  # the comparison report's HTML page, when any run finished
    pending: int = 0  # points of a shared sweep not done yet (its table is partial)


def _reason(error: BaseException) -> str:
    """The error's message on one line, in full (tables show it whole, below themselves)."""
    return " ".join(str(error).split()) or type(error).__name__


def run_one(config: ExperimentConfig, report: bool = True) -> str:
    """Train one sweep run unless it already settled; returns its status, never raises on failure.

    `KeyboardInterrupt` is not caught: the run is marked interrupted and the sweep stops.
    """
    run = RunDir(Path(config.out) / config.run_name)
    status = run.read_status().get("status")
    if status in SETTLED:
        return status
    try:
        if status in ("running", "interrupted") and run.last_checkpoint.is_file():
            experiment.resume(run.path, quiet=True, report=report)
        else:
            if run.path.exists():  # a failed or half-started run starts afresh under its own name
                shutil.rmtree(run.path)
            experiment.train(config, quiet=True, report=report)
    except Exception as error:  # CnnlabError and ordinary failures alike: mark the run, go on
        if run.read_status().get("status") == "diverged":
            return "diverged"
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_status("failed", reason=_reason(error), error=type(error).__name__)
        return "failed"
    return run.read_status().get("status", "unknown")


def _with_threads(config: ExperimentConfig, threads: int) -> ExperimentConfig:
    return dataclasses.replace(config, train=dataclasses.replace(config.train, threads=threads))


def run_configs(
    configs: Sequence[ExperimentConfig], workers: int = 1, report: bool = True
) -> list[str]:
    """Run each config (N at once with `workers`, the cores split between them); their statuses."""
    if workers < 1:
        raise ConfigError(f"sweep --workers: expected an integer >= 1, got {workers}")
    if workers == 1 or len(configs) <= 1:
        return [run_one(config, report) for config in configs]
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    threads = max(1, cores // workers)
    context = multiprocessing.get_context("spawn")  # no forked torch state in the workers
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(run_one, _with_threads(c, threads), report) for c in configs]
        return [future.result() for future in futures]


def sweep_dir(spec: SweepSpec, out: Path) -> Path:
    """The directory of this sweep: `<out>/<sweep name>`."""
    return Path(out) / spec.name


def prepare_sweep(
    spec: SweepSpec | str | Path,
    out: Path = Path("runs"),
    *,
    quick: bool = False,
    overrides: Overrides | Sequence[str] | Mapping | None = None,
    check: bool = True,
) -> tuple[SweepSpec, Path, list[SweepRun]]:
    """The sweep's spec (read and overridden), its directory and its runs; with `check`, the
    checks made before any run (see `run_sweep`)."""
    overrides = Overrides.of(overrides or ())
    if not isinstance(spec, SweepSpec):
        spec = load_spec(Path(spec), quick=quick, overrides=overrides)
    else:
        spec = spec.with_quick() if quick else spec
        spec = spec.with_overrides(overrides) if overrides else spec
    folder = sweep_dir(spec, out)
    if check:
        check_needs(spec, Path(out))
    runs = expand(spec, folder / "runs")
    if check:
        (folder / "runs").mkdir(parents=True, exist_ok=True)  # a backbone path may go through it
        check_pretrained(spec, runs)
        check_kept_runs(spec, runs, folder / "runs")
    return spec, folder, runs


def run_sweep(
    spec: SweepSpec | str | Path,
    out: Path = Path("runs"),
    *,
    workers: int = 1,
    report: bool = True,
    quick: bool = False,
    overrides: Overrides | Sequence[str] | Mapping | None = None,
) -> SweepResult:
    """Run every grid point not yet settled, then rebuild the table, figures and comparison.

    `spec` is a `SweepSpec` or the path of its YAML file; `quick` applies its quick overrides,
    then `overrides` (`key=value` texts, a mapping or an `Overrides`) apply to the base. Before
    any run: the sweeps in `needs` have finished, every backbone is found, and no kept run was
    trained with another config (else a `ConfigError` says what to run or change).
    """
    spec, folder, runs = prepare_sweep(spec, out, quick=quick, overrides=overrides)
    run_configs([run.config for run in runs], workers=workers, report=report)
    return summarize(spec, runs, folder, report=report)


def summarize(
    spec: SweepSpec, runs: Sequence[SweepRun], folder: Path, *, report: bool = True
) -> SweepResult:
    """Tables, figures and (with `report`) the comparison page, from the run directories."""
    curves = epoch_curves(spec, runs, folder / "runs")
    rows = [run_row(spec, run, folder / "runs") for run in runs]
    return publish(spec, rows, folder, curves, report=report)


def publish(
    spec: SweepSpec,
    rows: Sequence[dict],
    folder: Path,
    curves: EpochCurves | None,
    *,
    report: bool = True,
    pending: int = 0,
    note: str = "",
) -> SweepResult:
    """results.csv, results.md, figures and (with `report`) the comparison page of the settled
    runs in `folder/runs`; `pending` counts the runs not done yet, `note` says so in results.md."""
    csv_path, markdown_path = write_rows(spec, rows, folder, curves, note)
    figures = write_sweep_figures(spec, rows, folder / "figures", curves)
    comparison = None
    found = [RunDir(folder / "runs" / row["run"]) for row in rows]
    done = [run.path for run in found if run.read_status().get("status") in SETTLED]
    if report and done:
        _, comparison = write_comparison(done, folder / "comparison")
    return SweepResult(
        folder, list(rows), csv_path, markdown_path, figures, comparison, pending=pending
    )
