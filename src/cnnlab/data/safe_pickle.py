"""A restricted unpickler for dataset files: numpy arrays and plain containers, never code.

A pickle can name any importable callable and have it called while loading, so a dataset
pickle from the internet is read with an allowlist of the few globals that arrays need.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from types import MappingProxyType
from typing import IO, Any

import numpy as np

from cnnlab.errors import DataFormatError, UnsafeDataError

try:  # numpy >= 2 (and the loading shim of numpy 1.26)
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # numpy < 1.26
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
    from numpy.core import numeric as _numeric  # type: ignore[no-redef]

_REFUSAL_REASON = "CIFAR batches hold only arrays, lists and strings"


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """`_codecs.encode` as Python 3 protocol-2 pickles use it for bytes, and nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ValueError(
            f"_codecs.encode called with ({type(text).__name__}, {encoding!r}); a pickled "
            f"bytes object only ever uses (str, 'latin1')"
        )
    return text.encode("latin1")


def _plain_bytes(*args: Any) -> bytes:
    """`bytes()` or `bytes(bytes_like)`: refuses `bytes(n)`, which would allocate n bytes."""
    if args and not isinstance(args[0], (bytes, bytearray, memoryview)):
        raise TypeError(f"bytes() called with a {type(args[0]).__name__}; expected bytes")
    return bytes(*args)


def _plain_bytearray(*args: Any) -> bytearray:
    """`bytearray()` or `bytearray(bytes_like)`: refuses `bytearray(n)` for the same reason."""
    if args and not isinstance(args[0], (bytes, bytearray, memoryview)):
        raise TypeError(f"bytearray() called with a {type(args[0]).__name__}; expected bytes")
    return bytearray(*args)


_CONTAINERS: dict[str, Callable[..., Any]] = {
    "list": list,
    "tuple": tuple,
    "dict": dict,
    "set": set,
    "frozenset": frozenset,
    "bytes": _plain_bytes,
    "bytearray": _plain_bytearray,
}

# (module, name) as written in the pickle -> the object to use; read-only.
ALLOWED_GLOBALS: MappingProxyType[tuple[str, str], Callable[..., Any]] = MappingProxyType(
    {
        **{
            (module, name): obj
            for module in ("numpy.core.multiarray", "numpy._core.multiarray")
            for name, obj in (
                ("_reconstruct", _multiarray._reconstruct),
                ("scalar", _multiarray.scalar),
            )
        },
        ("numpy.core.numeric", "_frombuffer"): _numeric._frombuffer,  # protocol 5
        ("numpy._core.numeric", "_frombuffer"): _numeric._frombuffer,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,  # bytes in Python 3 protocol-2 pickles
        **{
            (module, name): obj
            for module in ("builtins", "__builtin__")
            for name, obj in _CONTAINERS.items()
        },
    }
)

# What a corrupt byte stream can make the unpickler (or an allowed constructor) raise.
_CORRUPT_PICKLE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
    MemoryError,  # e.g. numpy.ndarray called with a shape of petabytes
)


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose `find_class` answers only from `ALLOWED_GLOBALS`."""

    def __init__(self, file: IO[bytes], source: str) -> None:
        super().__init__(file, encoding="bytes")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        """The allowed object for `module.name`, or an `UnsafeDataError` naming it."""
        if (module, name) in ALLOWED_GLOBALS:
            return ALLOWED_GLOBALS[(module, name)]
        raise UnsafeDataError(
            f"refused to load {module}.{name} from {self._source}: {_REFUSAL_REASON}"
        )


def _str_keys(obj: dict, source: str) -> dict:
    """`obj` with bytes keys decoded, so Python 2 and Python 3 pickles read alike."""
    out: dict = {}
    for key, value in obj.items():
        name = key.decode("latin1") if isinstance(key, bytes) else key
        if name in out:
            raise DataFormatError(f"{source} holds the key {name!r} twice (as bytes and str)")
        out[name] = value
    return out


def safe_load_pickle(fileobj_or_bytes: IO[bytes] | bytes | bytearray, *, source: str) -> object:
    """Unpickle arrays and containers only; a dict result gets its bytes keys decoded to str.

    Loads with `encoding="bytes"`, as the Python 2 CIFAR pickles need. Any other global
    raises `UnsafeDataError` before it is called; a corrupt stream raises `DataFormatError`.
    """
    if isinstance(fileobj_or_bytes, (bytes, bytearray, memoryview)):
        fileobj_or_bytes = io.BytesIO(fileobj_or_bytes)
    try:
        obj = _RestrictedUnpickler(fileobj_or_bytes, source).load()
    except _CORRUPT_PICKLE_ERRORS as exc:
        raise DataFormatError(
            f"{source} is not a readable pickle ({type(exc).__name__}: {exc})"
        ) from exc
    if isinstance(obj, dict):
        obj = _str_keys(obj, source)
    return obj
