"""From YAML files, dicts and overrides (typed values, `key=value` texts) to validated
`ExperimentConfig`s, and back."""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cnnlab.config.schema import ExperimentConfig
from cnnlab.errors import ConfigError

COMPARE_KEY = "compare"  # a list of override mappings: one run per entry
# PyYAML reads and writes nested lists and mappings recursively
_TOO_DEEP = "nested too deeply to read (hundreds of levels of lists or mappings)"


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", None) or str(kind).replace("typing.", "")


def _coerce(value: Any, kind: Any, key: str) -> Any:
    """`value` checked against (and gently converted to) the annotated type `kind`."""
    origin = typing.get_origin(kind)
    if kind is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None:
            if type(None) in options:
                return None
            raise ConfigError(f"{key}: a value is required, got null")
        # keep the value's own type when it is one of the options (int stays int in float | int)
        for option in options:
            if option in (int, float, str, bool) and type(value) is option:
                return value
        list_errors = []  # a list's own error (a bad item) says more than "expected X or Y"
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as error:
                if isinstance(value, list) and typing.get_origin(option) is tuple:
                    list_errors.append(error)
        if len(list_errors) == 1:
            raise list_errors[0]
        expected = " or ".join(_type_name(o) for o in options if o is not type(None))
        raise ConfigError(f"{key}: expected {expected}, got {value!r}")
    if dataclasses.is_dataclass(kind):
        if isinstance(value, kind):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping of {kind.__name__} keys, got {value!r}")
        return from_dict(kind, value, prefix=f"{key}.")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(item, args[0], f"{key}[{i}]") for i, item in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} values, got {value!r}")
        return tuple(
            _coerce(item, t, f"{key}[{i}]")
            for i, (item, t) in enumerate(zip(value, args, strict=True))
        )
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if kind is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is None:
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(number):  # .inf, 1e400 (which overflows to inf), .nan
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return number
    if kind is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: cannot check values of type {kind}")  # a schema bug


def from_dict(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    """Build the dataclass `cls` from `data`; unknown keys raise naming the allowed ones."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in data:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
            raise ConfigError(
                f"unknown key {prefix}{key}{hint}; allowed keys"
                f"{' in ' + prefix.rstrip('.') if prefix else ''}: {', '.join(names)}"
            )
    values = {key: _coerce(value, hints[key], f"{prefix}{key}") for key, value in data.items()}
    return cls(**values)


def parse_override(text: str) -> tuple[list[str], Any]:
    """`'optim.lr=0.01'` -> (['optim', 'lr'], 0.01); the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key=value, e.g. optim.lr=0.01")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r}: the key must be dotted names, e.g. optim.lr")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as error:
        raise ConfigError(f"override {text!r}: the value is not valid YAML: {error}") from None
    except RecursionError:
        raise ConfigError(f"override {key}=...: the value is {_TOO_DEEP}") from None
    return key.split("."), value


def set_dotted(data: dict, path: Sequence[str], value: Any) -> None:
    """Set `data[a][b]... = value` for the dotted path, creating sections as needed."""
    node = data
    for index, part in enumerate(path[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(path[: index + 1])} is a value, not a section")
        node = child
    node[path[-1]] = value


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str] | Mapping[str, Any]) -> dict:
    """A deep copy of `data` with dotted overrides (strings `k=v`, or a mapping) applied."""
    try:
        result = yaml.safe_load(yaml.safe_dump(dict(data)))  # a deep, plain copy
    except RecursionError:
        raise ConfigError(f"the config is {_TOO_DEEP}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"the config holds a value YAML cannot represent: {error}") from None
    items = (
        overrides.items()
        if isinstance(overrides, Mapping)
        else (parse_override(text) for text in overrides)
    )
    for key, value in items:
        set_dotted(result, key.split(".") if isinstance(key, str) else key, value)
    return result


class UniqueKeySafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that names a key twice (PyYAML keeps the last
    silently, so a config's earlier setting would vanish without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice in one mapping (lines {seen[key]} and {line}); "
                    f"keep one",
                    key_node.start_mark,
                )
            if isinstance(key, str | int | float | bool):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> dict:
    """A YAML mapping from `path`, read safely; errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    try:
        data = yaml.load(text, Loader=UniqueKeySafeLoader)  # a yaml.SafeLoader subclass
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    except RecursionError:
        raise ConfigError(f"config file {path} is {_TOO_DEEP}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path}: expected a mapping of sections, got {type(data).__name__}"
        )
    return data


def build_config(data: Mapping[str, Any], source: str = "config") -> ExperimentConfig:
    """Validate a plain mapping into an `ExperimentConfig`; errors say where it came from."""
    try:
        return from_dict(ExperimentConfig, data)
    except ConfigError as error:
        raise ConfigError(f"{source}: {error}") from None


def resolve_model_path(data: dict, config_dir: Path) -> dict:
    """A model given as a file (spec YAML or `file.py:Class`) that is not found from the
    working directory is looked up beside the config file instead."""
    model = data.get("model")
    name = model.get("name") if isinstance(model, dict) else None
    if not isinstance(name, str) or not name.endswith((".yaml", ".yml")) and ".py:" not in name:
        return data
    file_part = name.split(":", 1)[0] if ".py:" in name else name
    if Path(file_part).is_absolute() or Path(file_part).exists():
        return data
    beside = config_dir / file_part
    if beside.exists():
        data["model"]["name"] = str(beside) + (name[len(file_part) :] if ".py:" in name else "")
    return data


@dataclass(frozen=True)
class Overrides:
    """Dotted-key overrides in the order they apply: typed values, then `key=value` texts.

    `values` hold values that already have their type (a command line's flags: `--name no`
    stays the string 'no'); only `texts` (`--set key=value`) are read as YAML, and they win.
    """

    values: Mapping[str, Any] = field(default_factory=dict)  # {"optim.lr": 0.01}
    texts: tuple[str, ...] = ()  # ("optim.lr=0.01",)

    @classmethod
    def of(cls, overrides: Overrides | Sequence[str] | Mapping[str, Any]) -> Overrides:
        """`overrides` as an `Overrides`: a mapping gives typed values, a sequence texts."""
        if isinstance(overrides, Overrides):
            return overrides
        if isinstance(overrides, Mapping):
            return cls(values=dict(overrides))
        return cls(texts=tuple(overrides))

    def keys(self) -> list[str]:
        """The dotted keys these overrides set, in the order they apply."""
        return [*self.values, *(".".join(parse_override(text)[0]) for text in self.texts)]

    def __bool__(self) -> bool:
        return bool(self.values or self.texts)

    def apply(self, data: Mapping[str, Any]) -> dict:
        """A deep copy of `data` with the typed values, then the texts, applied."""
        return apply_overrides(apply_overrides(data, self.values), self.texts)


def load_experiments(
    path: Path | None = None,
    overrides: Overrides | Sequence[str] | Mapping[str, Any] = (),
    base: Mapping[str, Any] | None = None,
) -> list[ExperimentConfig]:
    """The runs a config file describes: one, or one per entry of its `compare:` list.

    `overrides` apply to every run, after the file and after each `compare` entry: an
    `Overrides` (typed values, then `key=value` texts), `key=value` texts, or a mapping of
    dotted keys to typed values.
    """
    overrides = Overrides.of(overrides)
    data = dict(base or {})
    if path is not None:
        data.update(read_yaml(path))
    source = str(path) if path is not None else "config"
    variants = data.pop(COMPARE_KEY, None)
    config_dir = Path(path).parent if path is not None else Path(".")
    if variants is None:
        merged = resolve_model_path(overrides.apply(data), config_dir)
        return [build_config(merged, source)]
    if not isinstance(variants, list) or not all(isinstance(v, Mapping) for v in variants):
        raise ConfigError(f"{source}: {COMPARE_KEY} must be a list of mappings of dotted keys")
    configs = []
    for index, variant in enumerate(variants):
        merged = overrides.apply(apply_overrides(data, variant))
        merged = resolve_model_path(merged, config_dir)
        config = build_config(merged, f"{source}, {COMPARE_KEY}[{index}]")
        configs.append(config)
    names = [c.run_name for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(
            f"{source}: the {COMPARE_KEY} entries give runs with the same name: {names}"
        )
    return configs


def config_to_dict(config: Any) -> dict:
    """A plain, YAML-ready dict of a config (tuples become lists)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(config)


def dump_config(config: ExperimentConfig) -> str:
    """The resolved config as YAML text, in section order."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)
