"""What changed between two configs, key by key: so a rerun never mixes results of another config."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cnnlab.config.load import config_to_dict
from cnnlab.config.schema import ExperimentConfig

# Keys that say where or how fast a run goes, not what it computes: never a change.
PLACE_KEYS = ("out", "name", "train.threads")


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'train': {'epochs': 3}} -> {'train.epochs': 3}; non-mapping values are leaves."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _ignored(key: str, ignore: Iterable[str]) -> bool:
    return any(key == skip or key.startswith(skip + ".") for skip in ignore)


def config_changes(
    before: ExperimentConfig, after: ExperimentConfig, ignore: Iterable[str] = ()
) -> list[str]:
    """`'train.epochs: 10 -> 2'` for each key whose value differs (PLACE_KEYS and `ignore`
    and the keys under them left out), in key order."""
    skip = (*PLACE_KEYS, *ignore)
    old, new = flatten(config_to_dict(before)), flatten(config_to_dict(after))
    return [
        f"{key}: {old.get(key)!r} -> {new.get(key)!r}"
        for key in sorted(set(old) | set(new))
        if not _ignored(key, skip) and old.get(key) != new.get(key)
    ]
