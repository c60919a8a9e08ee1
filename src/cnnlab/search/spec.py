"""A search spec: a base config, a space over its keys, the metric and its direction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnlab.config import Overrides, apply_overrides, build_config
from cnnlab.config.load import read_yaml, resolve_model_path
from cnnlab.errors import ConfigError
from cnnlab.search.space import Param, parse_space
from cnnlab.training.optim import check_optim

SPEC_KEYS = ("name", "base", "space", "direction", "metric")
DIRECTIONS = ("maximize", "minimize")
DEFAULT_VAL = 0.1  # validation fraction set when the base config has none (pruning needs it)


@dataclass(frozen=True)
class SearchSpec:
    """What to search: `base` is a plain config mapping that every trial starts from."""

    name: str
    base: dict
    space: tuple[Param, ...]
    direction: str = "maximize"
    metric: str = "val_accuracy"  # an epoch-row column, reported to Optuna every epoch
    notes: tuple[str, ...] = ()  # adjustments made to the base config, to tell the user


def _base_mapping(base: Any, spec_dir: Path) -> dict:
    if base is None:
        return {}
    if isinstance(base, str):
        path = Path(base) if Path(base).is_absolute() else spec_dir / base
        return resolve_model_path(read_yaml(path), path.parent)
    if isinstance(base, Mapping):
        return resolve_model_path(apply_overrides(base, {}), spec_dir)
    raise ConfigError(f"search spec: base must be a config mapping or a path, got {base!r}")


def _check_config(data: dict, source: str) -> None:
    """Validate `data` as a config, its optimizer and schedule names included."""
    config = build_config(data, source)
    try:
        check_optim(config.optim)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def _with_overrides(
    base: dict, space: tuple[Param, ...], overrides: Overrides, source: str
) -> dict:
    """`base` with `overrides` (`--set`, `--epochs`...) applied; a searched key is refused, as
    every trial would replace it."""
    for key in overrides.keys():
        clash = [p.key for p in space if key == p.key or key.startswith(p.key + ".")]
        clash += [p.key for p in space if p.key.startswith(key + ".")]
        if clash:
            raise ConfigError(
                f"{source}: the override of {key} would be replaced by the searched key "
                f"{clash[0]} in every trial; change the space in the spec file instead"
            )
    return overrides.apply(base)


def build_search_spec(
    data: Mapping[str, Any],
    spec_dir: Path = Path("."),
    source: str = "search spec",
    overrides: Overrides | None = None,
) -> SearchSpec:
    """Validate a spec mapping; every space key is checked against the config schema.

    `overrides` apply to the base config before it is checked (and before a validation
    split is added where it has none)."""
    unknown = set(data) - set(SPEC_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown keys {sorted(unknown)}; allowed: {list(SPEC_KEYS)}")
    name = data.get("name") or "search"
    if not isinstance(name, str) or "/" in name:
        raise ConfigError(f"{source}: name must be a plain string (a directory name), got {name!r}")
    direction = data.get("direction", "maximize")
    if direction not in DIRECTIONS:
        raise ConfigError(
            f"{source}: direction must be one of {list(DIRECTIONS)}, got {direction!r}"
        )
    metric = data.get("metric", "val_accuracy")
    base = _base_mapping(data.get("base"), spec_dir)
    if "compare" in base:
        raise ConfigError(f"{source}: the base config cannot hold a compare: list")
    space = parse_space(data.get("space"))
    if overrides:
        base = _with_overrides(base, space, overrides, source)
    notes = []
    if (base.get("data") or {}).get("val") is None:
        base = apply_overrides(base, {"data.val": DEFAULT_VAL})
        notes.append(f"data.val was unset; using a validation split of {DEFAULT_VAL} for pruning")
    _check_config(base, f"{source}, base")
    if not metric.startswith(("val_", "train_")) or metric.split("_", 1)[1] not in (
        "accuracy",
        "loss",
        "f1",
    ):
        raise ConfigError(
            f"{source}: metric must be val_/train_ accuracy, loss or f1, got {metric!r}"
        )
    for param in space:
        _check_config(
            apply_overrides(base, {param.key: param.example()}),
            f"{source}, space key {param.key!r}",
        )
    return SearchSpec(name, base, space, direction, metric, tuple(notes))


def load_search_spec(path: Path, overrides: Overrides | None = None) -> SearchSpec:
    """The search spec in the YAML file `path` (a relative `base` path is read beside it),
    with `overrides` applied to its base config."""
    return build_search_spec(read_yaml(path), Path(path).parent, str(path), overrides)
