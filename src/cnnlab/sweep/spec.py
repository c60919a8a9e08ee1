"""A sweep description: a base config, a grid over dotted config keys, seeds and metrics.

Read from YAML and validated where it enters, so a bad key fails before any run starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnlab.config.load import COMPARE_KEY, apply_overrides, read_yaml
from cnnlab.errors import ConfigError

# metric column -> (key in the run's metrics.json, fallback key in final_metrics.json)
# A results column -> where its value is read: evaluate's test metrics (metrics.json),
# the final weights' numbers (final_metrics.json) or the last epoch's row (metrics.csv,
# measured while the weights moved), and the key there.
METRICS: dict[str, tuple[str, str]] = {
    "test_accuracy": ("test", "accuracy"),
    "test_f1_macro": ("test", "f1_macro"),
    "test_auc_macro": ("test", "auc_macro"),
    "test_loss": ("test", "loss"),
    "train_accuracy": ("final", "final_train_accuracy"),
    "train_f1_macro": ("last_epoch", "train_f1"),
    "train_loss": ("last_epoch", "train_loss"),
}
DEFAULT_METRICS = ("test_accuracy", "test_f1_macro")
SPEC_KEYS = ("name", "base", "grid", "seeds", "metrics", "quick")
VARIANT_KEY = "variant"  # grid key whose values are labelled mappings of dotted overrides


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the base config mapping, the grid, seeds, metrics and quick overrides."""

    name: str
    base: dict[str, Any] = field(default_factory=dict)  # a plain config mapping
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # (dotted key, values) in file order
    seeds: tuple[int, ...] | None = None  # None = the base config's own seed, once
    metrics: tuple[str, ...] = DEFAULT_METRICS
    quick: dict[str, Any] = field(default_factory=dict)  # dotted overrides for --quick
    source_dir: str = "."  # relative model paths are looked up beside the spec file

    @property
    def keys(self) -> tuple[str, ...]:
        """The swept dotted keys, in grid order."""
        return tuple(key for key, _ in self.grid)

    def with_quick(self) -> SweepSpec:
        """The same sweep with its `quick:` overrides applied to the base (grid values still win)."""
        base = apply_overrides(self.base, self.quick)
        return SweepSpec(self.name, base, self.grid, self.seeds, self.metrics, {}, self.source_dir)


def _fail(source: str, key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"sweep spec {source}: {key}: expected {expected}, got {value!r}")


def _base(value: Any, source: str, spec_dir: Path) -> dict[str, Any]:
    """The base config mapping, given inline or as a config file path relative to the spec."""
    if value is None:
        return {}
    if isinstance(value, str):
        path = Path(value) if Path(value).is_absolute() else spec_dir / value
        if not path.is_file():
            raise ConfigError(f"sweep spec {source}: base: config file {path} does not exist")
        value = read_yaml(path)
    if not isinstance(value, Mapping):
        raise _fail(source, "base", "a config mapping or a path to a config file", value)
    if COMPARE_KEY in value:
        raise ConfigError(
            f"sweep spec {source}: base.{COMPARE_KEY}: a sweep's variants belong in grid, "
            f"not in a {COMPARE_KEY} list"
        )
    return apply_overrides(value, {})  # a deep, plain copy


def _grid(value: Any, source: str) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise _fail(source, "grid", "a mapping of dotted config keys to lists", value)
    grid = []
    for key, values in value.items():
        if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
            raise _fail(source, f"grid key {key!r}", "a dotted config key, e.g. optim.lr", key)
        if not isinstance(values, list) or not values:
            raise _fail(source, f"grid.{key}", "a non-empty list of values", values)
        if key == VARIANT_KEY:
            for index, variant in enumerate(values):
                if not isinstance(variant, Mapping) or not isinstance(variant.get("label"), str):
                    raise _fail(
                        source,
                        f"grid.{key}[{index}]",
                        "a mapping with a label and dotted config overrides",
                        variant,
                    )
        grid.append((key, tuple(values)))
    return tuple(grid)


def _seeds(value: Any, source: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):  # a count: seeds 0..n-1
        if value < 1:
            raise _fail(source, "seeds", "a count >= 1 or a list of integers", value)
        return tuple(range(value))
    ok = (
        isinstance(value, list)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) for s in value)
    )
    if not ok or len(set(value)) != len(value):
        raise _fail(source, "seeds", "a count >= 1 or a list of distinct integers", value)
    return tuple(value)


def _metrics(value: Any, source: str) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_METRICS
    if not isinstance(value, list) or not value:
        raise _fail(source, "metrics", "a non-empty list of metric names", value)
    for metric in value:
        if metric not in METRICS:
            raise _fail(source, f"metrics ({metric!r})", "one of " + ", ".join(METRICS), metric)
    return tuple(value)


def spec_from_dict(
    data: Mapping[str, Any], source: str = "spec", spec_dir: Path = Path(".")
) -> SweepSpec:
    """Validate a plain mapping into a `SweepSpec`; errors name the bad key."""
    if not isinstance(data, Mapping):
        raise _fail(source, "(top level)", "a mapping of sweep keys", data)
    for key in data:
        if key not in SPEC_KEYS:
            raise ConfigError(
                f"sweep spec {source}: unknown key {key}; allowed keys: {', '.join(SPEC_KEYS)}"
            )
    name = data.get("name")
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise _fail(source, "name", "a non-empty folder name", name)
    quick = data.get("quick") or {}
    if not isinstance(quick, Mapping):
        raise _fail(source, "quick", "a mapping of dotted config keys to values", quick)
    return SweepSpec(
        name=name,
        base=_base(data.get("base"), source, spec_dir),
        grid=_grid(data.get("grid"), source),
        seeds=_seeds(data.get("seeds"), source),
        metrics=_metrics(data.get("metrics"), source),
        quick=dict(quick),
        source_dir=str(spec_dir),
    )


def load_spec(path: Path, *, quick: bool = False) -> SweepSpec:
    """The sweep spec in the YAML file `path`; with `quick`, its quick overrides applied."""
    path = Path(path)
    spec = spec_from_dict(read_yaml(path), str(path), path.parent.resolve())
    return spec.with_quick() if quick else spec
