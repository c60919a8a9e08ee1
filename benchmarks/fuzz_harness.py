"""The fuzz harness: a sandbox that sees any stray write, a time limit, byte mutations.

Each reader under fuzz is a `Reader` (the `fuzz_datasets`, `fuzz_images` and `fuzz_text`
modules define them; `fuzz_formats.READERS` lists them): a Hypothesis strategy of examples, a
`build` that lays an example out on disk inside a fresh sandbox in the real file format, and a
`read` that calls cnnlab on it. `attempt` runs one example and says how it went: "ok",
"refused" (a `CnnlabError`), or a finding ("other", "escaped", "hang"). Used by
`fuzz_readers.py` (>= 10,000 examples per reader) and `tests/reliability/` (100 to 200).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import tarfile
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from cnnlab.errors import CnnlabError

SANDBOX_FOLDERS = ("input", "cache", "target", "outside", "cwd")
WRITABLE = ("cache", "target")  # a reader may write here (image cache, extraction)
SECRET = b"must stay as it is"
DEFAULT_SECONDS = 20.0  # one input taking longer than this counts as a hang
# Sandboxes go to a RAM file system where there is one: ~1 ms each instead of ~30 on a busy disk.
FAST_TEMP = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


@dataclass(frozen=True)
class Box:
    """One input's sandbox: `base/l1/l2/box/{input,cache,target,outside,cwd}`.

    The two levels above `box` let a `../../..` entry land somewhere the check looks.
    """

    base: Path
    root: Path

    def __getattr__(self, name: str) -> Path:
        if name in SANDBOX_FOLDERS:
            return self.root / name
        raise AttributeError(name)

    def snapshot(self) -> dict[str, tuple]:
        """Every path under `base` (links not followed) with its kind, size and content stamp,
        except inside the folders a reader may write."""
        skip = {str(self.root / name) for name in WRITABLE}
        seen: dict[str, tuple] = {}
        for folder, dirs, files in os.walk(self.base, followlinks=False):
            dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skip]
            for name in dirs + files:
                path = os.path.join(folder, name)
                st_ = os.lstat(path)
                seen[path] = (
                    st_.st_mode,
                    st_.st_size if not os.path.isdir(path) else 0,
                    st_.st_mtime_ns,
                )
        return seen


@contextlib.contextmanager
def sandbox(parent: str | None = FAST_TEMP) -> Iterator[Box]:
    """A fresh sandbox, with `outside/secret.txt`, the working directory set to `cwd/`."""
    with tempfile.TemporaryDirectory(prefix="cnnlab-fuzz-", dir=parent) as base:
        root = Path(base) / "l1" / "l2" / "box"
        for name in SANDBOX_FOLDERS:
            (root / name).mkdir(parents=True)
        (root / "outside" / "secret.txt").write_bytes(SECRET)
        with contextlib.chdir(root / "cwd"):
            yield Box(Path(base), root)


class Hang(Exception):
    """One input ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `Hang` in the block after `seconds` (main thread only; elsewhere, no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Reader:
    """A reader under test: what to generate, how to lay it out, how to read it."""

    name: str
    strategy: st.SearchStrategy
    build: Callable[[Any, Box], Any]  # (example, sandbox) -> what `read` takes
    read: Callable[[Any, Box], object]


# What a refusal must never show: a Python object repr, or torch's unsafe reload advice.
UNSAID = (" object at 0x", "weights_only=False")


@dataclass(frozen=True)
class Outcome:
    kind: str  # "ok", "refused", "other", "escaped", "hang"
    detail: str
    seconds: float


def attempt(reader: Reader, example: Any, seconds: float = DEFAULT_SECONDS) -> Outcome:
    """Build `example` in a fresh sandbox, read it, and classify what happened."""
    with sandbox() as box:
        source = reader.build(example, box)
        before = box.snapshot()
        started = time.perf_counter()
        try:
            with time_limit(seconds), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Pillow's "Truncated File Read" and the like
                reader.read(source, box)
            kind, detail = "ok", ""
        except CnnlabError as error:
            kind, detail = "refused", f"{type(error).__name__}: {error}"
            if not str(error).strip() or any(bad in str(error) for bad in UNSAID):
                kind = "other"  # a refusal must say why, in words meant for people
        except Hang as error:
            kind, detail = "hang", str(error)
        except Exception as error:  # noqa: BLE001 - exactly what the fuzzer looks for
            kind, detail = "other", f"{type(error).__name__}: {error}"
        elapsed = time.perf_counter() - started
        after = box.snapshot()
        if before != after:
            changed = sorted(
                set(before) ^ set(after) | {p for p in before if after.get(p) != before[p]}
            )
            kind, detail = "escaped", f"changed outside the cache/target: {changed[:5]}"
        return Outcome(kind, detail[:500], elapsed)


# Byte-level mutations shared by every binary format: how many bytes to flip, where to cut,
# how many bytes to insert, and a seed for the positions and values. Hypothesis draws the
# shape of the damage; NumPy fills in the bytes (drawing each byte through Hypothesis costs
# more than reading the input).
mutations = st.tuples(
    st.integers(0, 4),
    st.none() | st.floats(0, 1, allow_subnormal=False),
    st.integers(0, 16),
    st.integers(0, 2**32 - 1),
)


def mutate(data: bytes, mutation) -> bytes:
    """`data` with the flips, cut and insertion of one `mutations` example applied."""
    flips, cut, inserted, seed = mutation
    rng = np.random.default_rng(seed)
    buffer = bytearray(data)
    for _ in range(flips if buffer else 0):
        buffer[int(rng.integers(len(buffer)))] = int(rng.integers(256))
    if cut is not None:
        del buffer[int(cut * len(buffer)) :]
    if inserted:
        at = int(rng.integers(len(buffer) + 1))
        buffer[at:at] = rng.bytes(inserted)
    return bytes(buffer)


def noise(max_size: int) -> st.SearchStrategy[bytes]:
    """Random bytes of a drawn length (0..max_size), filled from a drawn seed."""
    return st.tuples(st.integers(0, max_size), st.integers(0, 2**32 - 1)).map(
        lambda n_seed: np.random.default_rng(n_seed[1]).bytes(n_seed[0])
    )


# Plain values of every kind, for pickles, YAML and layer arguments.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_subnormal=False)
    | st.text(max_size=6)
    | st.binary(max_size=6)
)


def write_tar(path: Path, entries: list[tuple[str, bytes, bytes, str]], mode: str = "w:gz") -> None:
    """A tar of (name, data, member type, link target) entries, written as given."""
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT) as tar:
        for name, data, kind, link in entries:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
