"""A user's own network from a Python file, named `path/to/mymodel.py:MyNet`.

The class is built in the first of these forms its signature accepts (read with
`inspect.signature`, never by calling it and catching errors), `model.options` always as
keywords:

1. `MyNet(num_classes=K, **options)` when it has a `num_classes` parameter, also given
   `in_channels=C`, `image_size=S` (an int for square images, else (H, W)) and
   `in_shape=(C, H, W)` where it names them;
2. `MyNet(in_shape, num_classes, **options)` when it has no `num_classes` parameter;
3. `MyNet(**options)` (usually `MyNet()`): a network fixed to one input and class count.

The file's directory is not put on `sys.path`, so the file should import only installed
packages.
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
    args, kwargs = constructor_call(cls, in_shape, num_classes, options, where=str(path))
    try:
        return cls(*args, **kwargs)
    except Exception as error:  # the user's constructor failing is reported, not hidden
        raise ModelError(
            f"building {class_name}{inspect.signature(cls)} from model file {str(path)!r} "
            f"failed: {type(error).__name__}: {error}"
        ) from error


_BY_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
FORMS = (  # the forms a user class is built in, tried in this order (see the module docstring)
    "CLASS(num_classes=K, **options), plus in_channels=C, image_size=S and in_shape=(C, H, W) "
    "where it names them",
    "CLASS(in_shape, num_classes, **options) when it has no num_classes parameter",
    "CLASS(**options)",
)


def data_keywords(
    signature: inspect.Signature, in_shape: tuple[int, int, int], num_classes: int
) -> dict[str, object] | None:
    """The keywords of form 1 that `signature` names, or None when it names no `num_classes`."""
    named = {name for name, p in signature.parameters.items() if p.kind in _BY_KEYWORD}
    if "num_classes" not in named:
        return None
    C, H, W = in_shape
    offered = {
        "num_classes": num_classes,
        "in_channels": C,
        "image_size": H if H == W else (H, W),
        "in_shape": tuple(in_shape),
    }
    return {name: value for name, value in offered.items() if name in named}


def constructor_call(
    cls: type,
    in_shape: tuple[int, int, int],
    num_classes: int,
    options: dict[str, object],
    *,
    where: str,
) -> tuple[tuple, dict[str, object]]:
    """(args, kwargs) of the first form in `FORMS` that the signature of `cls` binds; else a
    ModelError showing the class, its signature and the forms (`where`: its file)."""
    signature = inspect.signature(cls)
    keywords = data_keywords(signature, in_shape, num_classes)
    if keywords is None:
        candidates = [((tuple(in_shape), num_classes), dict(options))]
    else:
        clash = sorted(set(keywords) & set(options))
        if clash:
            raise ModelError(
                f"model.options of {cls.__name__} in model file {where!r} set {', '.join(clash)}, "
                f"which cnnlab passes from the data; remove them from model.options"
            )
        candidates = [((), {**keywords, **options})]
    candidates.append(((), dict(options)))
    for args, kwargs in candidates:
        try:
            signature.bind(*args, **kwargs)
        except TypeError:  # from bind: this form does not fit the signature
            continue
        return args, kwargs
    forms = "; ".join(
        f"({n}) {form.replace('CLASS', cls.__name__)}" for n, form in enumerate(FORMS, 1)
    )
    raise ModelError(
        f"{cls.__name__}{signature} in model file {where!r} fits none of the forms cnnlab "
        f"builds a model class in: {forms}; options given: {', '.join(options) or 'none'}"
    )
