"""Checks made before a sweep trains anything: the sweeps it needs have finished, every
pretrained backbone is there, and no kept run was trained with another config."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cnnlab import transfer
from cnnlab.config import ExperimentConfig, config_changes
from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.runs import SETTLED, RunDir
from cnnlab.sweep.grid import SweepRun, expand
from cnnlab.sweep.spec import SweepSpec, load_spec

SHOWN = 3  # runs named in a refusal; the rest are counted


def kept(run: RunDir) -> bool:
    """Whether the sweep would keep this run directory (settled) or resume it (stopped mid-way)."""
    status = run.read_status().get("status")
    return status in SETTLED or (
        status in ("running", "interrupted") and run.last_checkpoint.is_file()
    )


def resolved(config: ExperimentConfig) -> ExperimentConfig:
    """The config as its run's config.yaml will hold it (a backbone's model filled in)."""
    return transfer.resolve_config(config) if config.model.pretrained else config


def changes(run: RunDir, config: ExperimentConfig) -> list[str]:
    """How the config saved in `run` differs from `config` (['config.yaml unreadable: ...'])."""
    try:
        return config_changes(run.read_config(), resolved(config))
    except CnnlabError as error:
        return [f"its config cannot be compared: {error}"]


def command(spec_path: str, out: Path, quick: bool) -> str:
    """The `cnnlab sweep` command that runs a spec into `out` (a short path where one exists)."""
    relative = os.path.relpath(spec_path)
    path = spec_path if relative.startswith("..") else relative
    return f"cnnlab sweep {path} --out {out}" + (" --quick" if quick else "")


def check_needs(spec: SweepSpec, out: Path) -> None:
    """Every sweep that `spec` needs has finished its runs into `out`, with its own config."""
    for need_path in spec.needs:
        need = load_spec(Path(need_path), quick=spec.quick_mode)
        folder = Path(out) / need.name / "runs"
        missing, other = [], []
        for run in expand(need, folder):
            found = RunDir(folder / run.name)
            status = found.read_status().get("status")
            if not found.path.exists():
                missing.append(f"{found.path} does not exist")
            elif status not in SETTLED:
                missing.append(f"{found.path} is {status}, not finished")
            elif changed := changes(found, run.config):
                other.append(f"{found.path} was trained with another config ({changed[0]})")
        if missing or other:
            quick = " with --quick" if spec.quick_mode else ""
            again = command(need_path, out, spec.quick_mode)
            advice = (
                f"Run that sweep first, into the same --out: {again}"
                if not other
                else f"Delete {folder.parent} and run: {again} (or train both sweeps into "
                "another --out)"
            )
            raise ConfigError(
                f"sweep {spec.name} trains from the runs of sweep {need.name}{quick}, and "
                f"{'; '.join(missing + other)}. {advice}"
            )


def check_pretrained(spec: SweepSpec, runs: Sequence[SweepRun]) -> None:
    """Every run's pretrained backbone is found, before the first run starts."""
    for run in runs:
        if run.config.model.pretrained:
            try:
                transfer.resolve_config(run.config)
            except ConfigError as error:
                raise ConfigError(f"sweep {spec.name}, run {run.name}: {error}") from None


def check_kept_runs(spec: SweepSpec, runs: Sequence[SweepRun], folder: Path) -> None:
    """No run the sweep would keep or resume was trained with a config other than its own now
    (a changed `--set`, `--epochs`, `--quick` or spec would mix two experiments in one table)."""
    stale = []
    for run in runs:
        found = RunDir(Path(folder) / run.name)
        if kept(found) and (changed := changes(found, run.config)):
            stale.append(f"{run.name} ({', '.join(changed)})")
    if stale:
        more = f" and {len(stale) - SHOWN} more" if len(stale) > SHOWN else ""
        raise ConfigError(
            f"sweep {spec.name}: {len(stale)} run(s) in {folder} were trained with another "
            f"config than this sweep gives them now: {'; '.join(stale[:SHOWN])}{more}. "
            f"Give this sweep another --out, or delete {Path(folder).parent} to train it afresh"
        )
