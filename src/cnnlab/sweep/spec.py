"""A sweep description: a base config, a grid over dotted config keys, seeds and metrics.

Read from YAML and validated where it enters, so a bad key fails before any run starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnlab.config import Overrides
from cnnlab.config.load import COMPARE_KEY, apply_overrides, read_yaml
from cnnlab.errors import ConfigError

# metric column -> (key in the run's metrics.json, fallback key in final_metrics.json)
# A results column -> where its value is read: evaluate's test metrics (metrics.json),
# the final weights' numbers (final_metrics.json) or the last epoch's row (metrics.csv,
# measured while the weights moved), and the key there.
METRICS: dict[str, tuple[str, str]] = {
    "test_accuracy": ("test", "accuracy"),
    "test_balanced_accuracy": ("test", "balanced_accuracy"),  # the mean recall over classes
    "test_f1_macro": ("test", "f1_macro"),
    "test_auc_macro": ("test", "auc_macro"),
    "test_loss": ("test", "loss"),
    "train_accuracy": ("final", "final_train_accuracy"),
    "train_f1_macro": ("last_epoch", "train_f1"),
    "train_loss": ("last_epoch", "train_loss"),
}
DEFAULT_METRICS = ("test_accuracy", "test_f1_macro")
SPEC_KEYS = ("name", "base", "grid", "seeds", "metrics", "quick", "needs")
VARIANT_KEY = "variant"  # grid key whose values are labelled mappings of dotted overrides


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the base config mapping, the grid, seeds, metrics and quick overrides."""

    name: str
    base: dict[str, Any] = field(default_factory=dict)  # a plain config mapping
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # (dotted key, values) in file order
    seeds: tuple[int, ...] | None = None  # None = the base config's own seed, once
    metrics: tuple[str, ...] = DEFAULT_METRICS
    quick: dict[str, Any] = field(
        default_factory=dict
    )  # dotted overrides (or grid values) for --quick
    source_dir: str = "."  # relative model paths are looked up beside the spec file
    needs: tuple[str, ...] = ()  # sweep spec files (absolute) whose runs this one trains from
    quick_mode: bool = False  # whether `quick:` was applied (its needs are checked as quick too)

    @property
    def keys(self) -> tuple[str, ...]:
        """The swept dotted keys, in grid order."""
        return tuple(key for key, _ in self.grid)

    def grid_keys(self) -> set[str]:
        """Every dotted key a grid point sets: the swept keys and each variant's own keys."""
        keys = {key for key in self.keys if key != VARIANT_KEY}
        for key, values in self.grid:
            if key == VARIANT_KEY:
                keys.update(k for variant in values for k in variant if k != "label")
        return keys

    def with_quick(self) -> SweepSpec:
        """The same sweep with its `quick:` overrides applied: a swept key's entry (a list)
        replaces that key's grid values, every other entry applies to the base."""
        swept = dict(self.grid)
        grid = tuple((key, tuple(self.quick.get(key, values))) for key, values in self.grid)
        base = apply_overrides(self.base, {k: v for k, v in self.quick.items() if k not in swept})
        return dataclasses.replace(self, base=base, grid=grid, quick={}, quick_mode=True)

    def with_overrides(self, overrides: Overrides) -> SweepSpec:
        """The same sweep with `overrides` (`--set`, `--epochs`...) applied to its base.

        A key the grid sets would be overwritten at every grid point, so it is refused.
        """
        grid_keys = self.grid_keys()
        for key in overrides.keys():
            clash = sorted(g for g in grid_keys if _nested(key, g))
            if clash:
                raise ConfigError(
                    f"sweep {self.name}: the override of {key} would be replaced by the grid, "
                    f"which sets {', '.join(clash)} at every run; change the grid in the spec "
                    "file instead"
                )
        return dataclasses.replace(self, base=overrides.apply(self.base))


def _nested(a: str, b: str) -> bool:
    """Whether dotted keys `a` and `b` are the same or one holds the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


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


def _needs(value: Any, source: str, spec_dir: Path) -> tuple[str, ...]:
    """Sweep spec files (relative to this spec) whose finished runs this sweep trains from."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(source, "needs", "a list of sweep spec files (relative to this spec)", value)
    paths = []
    for entry in value:
        path = Path(entry) if Path(entry).is_absolute() else Path(spec_dir) / entry
        if not path.is_file():
            raise ConfigError(f"sweep spec {source}: needs: sweep spec {path} does not exist")
        paths.append(str(path))
    return tuple(paths)


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
    grid = _grid(data.get("grid"), source)
    for key, _ in grid:  # a swept key's quick entry is a grid list of its own
        if key in quick:
            _grid({key: quick[key]}, f"{source} quick")
    return SweepSpec(
        name=name,
        base=_base(data.get("base"), source, spec_dir),
        grid=grid,
        seeds=_seeds(data.get("seeds"), source),
        metrics=_metrics(data.get("metrics"), source),
        quick=dict(quick),
        source_dir=str(spec_dir),
        needs=_needs(data.get("needs"), source, spec_dir),
    )


def load_spec(path: Path, *, quick: bool = False, overrides: Overrides | None = None) -> SweepSpec:
    """The sweep spec in the YAML file `path`; with `quick`, its quick overrides applied to the
    base, then `overrides` (so `--epochs 3 --quick` trains 3 epochs), then each grid point."""
    path = Path(path)
    spec = spec_from_dict(read_yaml(path), str(path), path.parent.resolve())
    spec = spec.with_quick() if quick else spec
    return spec.with_overrides(overrides) if overrides else spec
