"""A sweep spec expanded into run configs, each with a deterministic, unique, filesystem-safe name."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.config import ExperimentConfig, apply_overrides, build_config
from cnnlab.config.load import resolve_model_path
from cnnlab.errors import ConfigError
from cnnlab.sweep.spec import VARIANT_KEY, SweepSpec
from cnnlab.training.optim import check_optim

_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]+")


@dataclass(frozen=True)
class SweepRun:
    """One point of the grid: its name, swept values (in grid order), seed and config."""

    name: str
    values: tuple[tuple[str, Any], ...]  # (dotted key, value)
    seed: int
    config: ExperimentConfig


def key_labels(keys: tuple[str, ...]) -> dict[str, str]:
    """Short labels for dotted keys: the last part (`optim.lr` -> `lr`, `model.name` -> `model`),
    the full key where two short labels would clash."""
    short = {
        key: (key.split(".")[-2] if key.endswith(".name") and "." in key else key.split(".")[-1])
        for key in keys
    }
    clashes = {label for label in short.values() if list(short.values()).count(label) > 1}
    return {key: (key if label in clashes else label) for key, label in short.items()}


def value_label(value: Any) -> str:
    """A short text for a swept value: a file path by its stem, None as `all`, numbers as %g."""
    if value is None:
        return "all"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and (value.endswith((".yaml", ".yml")) or "/" in value):
        return Path(value.split(":", 1)[0]).stem + (
            ":" + value.split(":", 1)[1] if ".py:" in value else ""
        )
    if isinstance(value, (list, tuple)):
        return "+".join(value_label(v) for v in value)
    if isinstance(value, dict) and isinstance(value.get("label"), str):
        return value["label"]
    if isinstance(value, dict):
        return "+".join(f"{k}-{value_label(v)}" for k, v in value.items())
    return str(value)


def run_name(values: tuple[tuple[str, Any], ...], seed: int, labels: dict[str, str]) -> str:
    """`model=conv1,lr=0.01,seed=0`, with characters unsafe in file names replaced by `_`."""
    parts = [f"{labels[key]}={value_label(value)}" for key, value in values] + [f"seed={seed}"]
    return _UNSAFE.sub("_", ",".join(parts)).strip("._") or "run"


def _overrides(values: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """Dotted overrides of one grid point; a `variant` value contributes its own overrides."""
    overrides: dict[str, Any] = {}
    for key, value in values:
        if key == VARIANT_KEY:
            overrides.update({k: v for k, v in value.items() if k != "label"})
        else:
            overrides[key] = value
    return overrides


def expand(spec: SweepSpec, runs_dir: Path) -> list[SweepRun]:
    """Every grid point × seed as a validated config writing to `runs_dir/<run name>`."""
    labels = key_labels(spec.keys)
    base_seed = build_config(
        resolve_model_path(apply_overrides(spec.base, {}), Path(spec.source_dir)),
        f"sweep {spec.name}: base",
    ).train.seed
    seeds = spec.seeds if spec.seeds is not None else (base_seed,)
    runs = []
    for combo in itertools.product(*(values for _, values in spec.grid)):
        values = tuple(zip(spec.keys, combo, strict=True))
        for seed in seeds:
            name = run_name(values, seed, labels)
            overrides = _overrides(values) | {
                "train.seed": seed,
                "name": name,
                "out": str(runs_dir),
            }
            data = resolve_model_path(apply_overrides(spec.base, overrides), Path(spec.source_dir))
            source = f"sweep {spec.name}, run {name}"
            config = build_config(data, source)
            try:
                check_optim(config.optim)  # before any run starts
            except ConfigError as error:
                raise ConfigError(f"{source}: {error}") from None
            runs.append(SweepRun(name, values, seed, config))
    names = [run.name for run in runs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(
            f"sweep {spec.name}: grid values give runs with the same name {duplicates}; "
            "make the values of each grid key distinct"
        )
    return runs
