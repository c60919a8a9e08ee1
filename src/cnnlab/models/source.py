"""The text a user wrote to define a model: a `PATH.py:CLASS` file's source or a layer spec.

A run keeps a copy (`RunDir.write_model_source`), so its report shows the code it trained
even after the file moved or changed. Registered models have no such text: their code is
cnnlab's own, and a report lists their modules instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cnnlab.errors import ModelError
from cnnlab.models.spec_parse import is_spec_file
from cnnlab.models.user import is_user_model, split_reference

SOURCE_KINDS = ("python", "spec")  # a user's nn.Module file; a layer spec (YAML)


@dataclass(frozen=True)
class ModelSource:
    """The model's defining text, what kind it is and where it was read from."""

    kind: str  # one of SOURCE_KINDS
    text: str
    origin: str  # the file it was read from, or the config key that held it

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ModelError(f"model source kind {self.kind!r}: expected one of {SOURCE_KINDS}")


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelError(
            f"cannot read {what} {str(path)!r} to keep with the run: {error}"
        ) from None


def model_source(name: str, options: Mapping[str, Any] | None = None) -> ModelSource | None:
    """The text behind `model.name` (and `model.options`), or None for a registered model."""
    options = options or {}
    if is_user_model(name):
        path, _ = split_reference(name)
        return ModelSource("python", _read(path, "model file"), str(path))
    if is_spec_file(name):
        return ModelSource("spec", _read(Path(name), "layer spec file"), str(name))
    if name == "spec" and "spec" in options:
        spec = options["spec"]
        if is_spec_file(spec):
            return ModelSource("spec", _read(Path(spec), "layer spec file"), str(spec))
        text = spec if isinstance(spec, str) else yaml.safe_dump(list(spec), sort_keys=False)
        return ModelSource("spec", text, "model.options.spec")
    return None


def class_name(name: str) -> str | None:
    """CLASS of a `PATH.py:CLASS` model name (None for other names)."""
    return split_reference(name)[1] if is_user_model(name) else None
