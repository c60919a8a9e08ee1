"""The search space: dotted config keys mapped to float, int or categorical ranges."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cnnlab.errors import ConfigError

RANGE_KEYS = {"low", "high", "log"}


@dataclass(frozen=True)
class Param:
    """One searched config key: a float or int range (optionally log-scaled), or choices."""

    key: str  # dotted config key, e.g. "optim.lr"
    kind: str  # "float", "int" or "categorical"
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial) -> Any:
        """A value for this key drawn by an Optuna trial."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, self.low, self.high, log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, log=self.log)

    def example(self) -> Any:
        """A value inside the range, used to check the key against the config schema."""
        return self.choices[0] if self.kind == "categorical" else self.low


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_param(key: str, spec: Any) -> Param:
    """One `space` entry; errors name the key and the expected form."""
    where = f"search space key {key!r}"
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"{where}: expected a mapping {{low, high[, log]}} or {{choices: [...]}}, got {spec!r}"
        )
    if "choices" in spec:
        choices = spec["choices"]
        if set(spec) != {"choices"}:
            raise ConfigError(
                f"{where}: 'choices' cannot be combined with {sorted(set(spec) - {'choices'})}"
            )
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: choices must be a non-empty list, got {choices!r}")
        return Param(key, "categorical", choices=tuple(choices))
    unknown = set(spec) - RANGE_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown fields {sorted(unknown)}; allowed: low, high, log, choices"
        )
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{where}: a range needs both low and high, got {dict(spec)!r}")
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    if not (_is_number(low) and _is_number(high)):
        raise ConfigError(f"{where}: low and high must be numbers, got low={low!r}, high={high!r}")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false, got {log!r}")
    if not low < high:
        raise ConfigError(f"{where}: low must be below high, got low={low}, high={high}")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs low > 0, got low={low}")
    kind = "int" if isinstance(low, int) and isinstance(high, int) else "float"
    return Param(key, kind, low=low, high=high, log=log)


def parse_space(space: Any) -> tuple[Param, ...]:
    """All entries of a spec's `space` mapping, in the order written."""
    if not isinstance(space, Mapping) or not space:
        raise ConfigError(
            f"search spec: space must be a non-empty mapping of dotted keys, got {space!r}"
        )
    return tuple(parse_param(str(key), spec) for key, spec in space.items())
