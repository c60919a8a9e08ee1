"""A user's own network from a Python file, named `path/to/mymodel.py:MyNet`.

The class is built as `MyNet(in_shape, num_classes, **options)` when its signature accepts
that, else as `MyNet(**options)` (usually `MyNet()`). The file's directory is not put on
`sys.path`, so the file should import only installed packages.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType

from torch import nn

from cnnlab.errors import ModelError

USER_MODULE_PREFIX = "cnnlab_user_model_"


def is_user_model(name: str) -> bool:
    """Whether `name` has the `path.py:ClassName` form."""
    return ".py:" in name


def split_reference(reference: str) -> tuple[Path, str]:
    """('path/to/mymodel.py', 'MyNet') from 'path/to/mymodel.py:MyNet'."""
    path, _, class_name = reference.rpartition(":")
    if not path.endswith(".py") or not class_name.isidentifier():
        raise ModelError(
            f"a model from a file is named PATH.py:CLASS, e.g. models/mymodel.py:MyNet; "
            f"got {reference!r}"
        )
    return Path(path), class_name


def _module_name(path: Path) -> str:
    """A module name unique to the file's resolved path, so two files never collide."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", path.stem)
    return f"{USER_MODULE_PREFIX}{stem}_{digest}"


def import_file(path: Path) -> ModuleType:
    """Import a Python file by path; a missing file or a failing import names the file and why."""
    if not path.is_file():
        raise ModelError(f"model file {str(path)!r} does not exist")
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelError(f"model file {str(path)!r} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # keyed by path: dataclasses and pickling look the module up
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # any failure of user code becomes one clear error
        sys.modules.pop(name, None)
        raise ModelError(
            f"model file {str(path)!r} failed to import: {type(error).__name__}: {error}"
        ) from error
    return module


def load_user_model(
    reference: str, in_shape: tuple[int, int, int], num_classes: int, **options: object
) -> nn.Module:
    """Build the class named by 'path.py:ClassName' for `in_shape` (C, H, W) and `num_classes`."""
    path, class_name = split_reference(reference)
    module = import_file(path)
    cls = getattr(module, class_name, None)
    if cls is None:
        found = sorted(
            name
            for name, value in vars(module).items()
            if inspect.isclass(value)
            and issubclass(value, nn.Module)
            and value.__module__ == module.__name__
        )
        raise ModelError(
            f"model file {str(path)!r} has no class {class_name!r}; "
            f"nn.Module classes it defines: {', '.join(found) or 'none'}"
        )
    if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
        raise ModelError(
            f"{class_name!r} in model file {str(path)!r} is not an nn.Module subclass "
            f"(it is {type(cls).__name__} {cls!r})"
        )
    signature = inspect.signature(cls)
    for args in ((in_shape, num_classes), ()):
        try:
            signature.bind(*args, **options)
        except TypeError:
            continue
        try:
            model = cls(*args, **options)
        except Exception as error:  # the user's constructor failing is reported, not hidden
            raise ModelError(
                f"building {class_name}{signature} from model file {str(path)!r} failed: "
                f"{type(error).__name__}: {error}"
            ) from error
        return model
    raise ModelError(
        f"{class_name}{signature} in model file {str(path)!r} accepts neither "
        f"(in_shape, num_classes, **options) nor (**options); options given: "
        f"{', '.join(options) or 'none'}"
    )
