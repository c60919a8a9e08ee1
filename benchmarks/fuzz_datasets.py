"""Fuzz inputs for the dataset files: MNIST IDX and CIFAR-10 python and binary batches.

Each reader gets a folder (or the official .tar.gz) in which one file is generated: a
near-valid file with one thing wrong, an odd or hostile one, or noise. See `fuzz_formats`.
"""

from __future__ import annotations

import gzip
import pickle
import tarfile
from pathlib import Path

import numpy as np
from fuzz_harness import Box, mutate, mutations, noise, scalars, write_tar
from hypothesis import strategies as st

from cnnlab.data.cifar import BINARY, PYTHON, load_cifar10
from cnnlab.data.idx import IDX_FILES, MNIST_CLASSES, idx_bytes, load_idx_dataset

# ---------------------------------------------------------------- IDX


def _valid_idx(stem: str) -> bytes:
    rng = np.random.default_rng(len(stem))
    if "images" in stem:
        return idx_bytes(rng.integers(0, 256, (2, 3, 3), dtype=np.uint8))  # (N, H, W)
    return idx_bytes(rng.integers(0, 10, 2).astype(np.uint8))  # (N,)


VALID_IDX = {stem: _valid_idx(stem) for stem in IDX_FILES}
IDX_ITEM = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


@st.composite
def idx_file(draw) -> bytes:
    """A near-valid IDX file (header fields, lengths off by a little or a lot) or noise."""
    if draw(st.booleans()):
        return draw(noise(200))
    code = draw(st.sampled_from([*IDX_ITEM, 0x00, 0x07, 0xFF]))
    ndim = draw(st.integers(0, 4) | st.sampled_from([255]))
    dims = draw(st.lists(st.integers(0, 5) | st.sampled_from([2**32 - 1, 60000]), max_size=4))
    magic = bytes([0, 0, code, ndim]) if draw(st.integers(0, 9)) else draw(noise(4))
    header = magic + b"".join(d.to_bytes(4, "big") for d in dims)
    claimed = int(np.prod(dims, dtype=object)) * IDX_ITEM.get(code, 1) if dims else 0
    length = claimed if claimed < 400 else 20
    length = max(0, length + draw(st.sampled_from([0, 0, 0, -1, 1, 3])))
    payload = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).bytes(length)
    return mutate(header + payload, draw(mutations)) if draw(st.booleans()) else header + payload


@st.composite
def near_idx(draw, slot: str) -> bytes:
    """A well-formed IDX file for `slot` whose count, shape, dtype or values may not fit."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.sampled_from([2, 2, 2, 1, 3, 0]))
    dtype = draw(st.sampled_from(["u1", "u1", "u1", "i1", "i2", "i4", "f4", "f8"]))
    if "images" in slot:
        shape = (n, *draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
        array = rng.integers(0, 256, shape)
    else:
        array = rng.integers(-1, 12, (n, *draw(st.sampled_from([(), (), (), (1,)]))))
    return idx_bytes(array.astype(dtype))


idx_inputs = st.sampled_from(IDX_FILES).flatmap(
    lambda slot: st.tuples(
        st.just(slot),
        near_idx(slot) | idx_file(),
        st.sampled_from(["raw", "raw", "gz", "bad-gz"]),
    )
)


def build_idx(example, box: Box) -> Path:
    slot, data, wrap = example
    for stem in IDX_FILES:
        content = data if stem == slot else VALID_IDX[stem]
        if stem == slot and wrap != "raw":
            content = gzip.compress(content, mtime=0)
            content = content[: len(content) // 2] if wrap == "bad-gz" else content
        (box.input / (f"{stem}.gz" if stem == slot and wrap != "raw" else stem)).write_bytes(
            content
        )
    return box.input


def read_idx(source: Path, box: Box) -> object:
    return load_idx_dataset(source, "fuzz", MNIST_CLASSES)


# ---------------------------------------------------------------- CIFAR-10


def _batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
    }


VALID_PYTHON = {
    name: pickle.dumps(_batch(2, k), protocol=2) for k, name in enumerate(PYTHON.batches)
}
VALID_PYTHON[PYTHON.meta] = pickle.dumps(
    {b"label_names": [f"c{k}".encode() for k in range(10)]}, protocol=2
)
VALID_BINARY = {
    name: bytes(np.concatenate([[k % 10], np.full(3072, k, np.uint8)] * 2).astype(np.uint8))
    for k, name in enumerate(BINARY.batches)
}
VALID_BINARY[BINARY.meta] = "\n".join(f"c{k}" for k in range(10)).encode()

# Hand-written pickles that would run code or allocate without bound; {marker} is a path in
# the sandbox's outside/ folder that must never appear.
MALICIOUS_PICKLES = (
    b"cos\nsystem\n(S'touch {marker}'\ntR.",
    b"cposix\nsystem\n(S'touch {marker}'\ntR.",
    b"cbuiltins\nopen\n(S'{marker}'\nS'w'\ntR.",
    b'c__builtin__\neval\n(S\'open("{marker}", "w")\'\ntR.',
    b'cbuiltins\nexec\n(S\'open("{marker}", "w")\'\ntR.',
    b"cpathlib\nPath\n(S'{marker}'\ntR.",
    b"csubprocess\ncall\n((S'touch'\nS'{marker}'\nltR.",
    b"cnumpy\nndarray\n(I100000000000\ntR.",
    b"cnumpy\nndarray\n((I100000\nI100000\nI100000\nttR.",
    b"cbuiltins\nbytearray\n(I100000000000\ntR.",
    b"cbuiltins\nbytes\n(I100000000000\ntR.",
    b"cnumpy\ndtype\n(S'V99999999999999'\ntR.",
    b"c_codecs\nencode\n(S'x'\nS'rot13'\ntR.",
    b"cbuiltins\ngetattr\n(cbuiltins\nopen\nS'x'\ntR.",
    b"(lp0\ng0\na" * 3 + b".",
    b"\x80\x05\x95" + (2**62).to_bytes(8, "little") + b".",
)


@st.composite
def arrays(draw) -> np.ndarray:
    dtype = draw(st.sampled_from(["u1", "u1", "u1", "i8", "f4", "i1", "?", "U2", "O"]))
    n = draw(st.integers(0, 3))
    shape = draw(
        st.sampled_from([(n, 3072), (n, 3072), (n, 3071), (3072,), (n, 3, 32, 32), (n, 0), ()])
    )
    array = np.zeros(shape, dtype=dtype)
    return array if draw(st.booleans()) else np.asfortranarray(array)


values = st.recursive(
    scalars | arrays(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4) | st.binary(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
labels = st.lists(st.integers(-2, 12), min_size=0, max_size=4) | values
batch_objects = (
    st.fixed_dictionaries(
        {},
        optional={
            b"data": arrays() | values,
            b"labels": labels,
            "data": arrays(),
            "labels": labels,
            b"label_names": st.lists(st.binary(max_size=4) | st.text(max_size=4), max_size=11),
        },
    )
    | values
)


@st.composite
def near_batch(draw) -> dict:
    """A valid batch or meta dict with at most one thing wrong in it."""
    n = draw(st.integers(1, 3))
    if draw(st.booleans()):
        batch = {b"data": np.zeros((n, 3072), np.uint8), b"labels": [0] * n, b"batch_label": b"x"}
    else:
        batch = {b"label_names": [f"c{k}".encode() for k in range(10)]}
    change = draw(
        st.sampled_from(
            ["none", "none", "str keys", "label", "count", "dtype", "array", "drop", "name"]
        )
    )
    if change == "str keys":
        batch = {key.decode(): value for key, value in batch.items()}
    elif change == "label" and b"labels" in batch:
        batch[b"labels"][0] = draw(st.integers(-(2**65), 2**65) | st.integers(-2, 12) | scalars)
    elif change == "count" and b"labels" in batch:
        batch[b"labels"] = batch[b"labels"][1:]
    elif change == "dtype" and b"data" in batch:
        batch[b"data"] = batch[b"data"].astype(draw(st.sampled_from(["i8", "f4", "O", "U1"])))
    elif change == "array" and b"labels" in batch:
        batch[b"labels"] = np.array(
            batch[b"labels"], dtype=draw(st.sampled_from(["u1", "i8", "f8"]))
        )
    elif change == "drop":
        batch.pop(draw(st.sampled_from(sorted(batch))))
    elif change == "name" and b"label_names" in batch:
        batch[b"label_names"][draw(st.integers(0, 9))] = draw(
            st.binary(max_size=4) | st.text(max_size=3)
        )
    return batch


@st.composite
def python_file(draw) -> bytes:
    """A pickle of a near-valid or odd object (any protocol), a malicious pickle, or noise."""
    kind = draw(st.sampled_from(["near", "near", "object", "object", "malicious", "noise"]))
    if kind == "near":
        data = pickle.dumps(draw(near_batch()), protocol=draw(st.integers(0, 5)))
        return mutate(data, draw(mutations)) if draw(st.integers(0, 3)) == 0 else data
    if kind == "malicious":
        return draw(st.sampled_from(MALICIOUS_PICKLES))
    if kind == "noise":
        return draw(noise(300))
    data = pickle.dumps(draw(batch_objects), protocol=draw(st.integers(0, 5)))
    return mutate(data, draw(mutations)) if draw(st.booleans()) else data


@st.composite
def binary_file(draw) -> bytes:
    """Whole or cut 3,073-byte records with any label byte, class-name text, or noise."""
    if draw(st.integers(0, 4)) == 0:
        return draw(noise(100))
    n = draw(st.integers(0, 3))
    records = b"".join(
        bytes([draw(st.integers(0, 255) | st.integers(0, 9))]) + bytes(3072) for _ in range(n)
    )
    text = "\n".join(draw(st.lists(st.text(max_size=6), max_size=12))).encode(
        "utf-8", "surrogatepass"
    )
    return mutate(draw(st.sampled_from([records, text])), draw(mutations))


TAR_TYPES = (tarfile.REGTYPE,) * 5 + (
    tarfile.SYMTYPE,
    tarfile.LNKTYPE,
    tarfile.DIRTYPE,
    tarfile.FIFOTYPE,
    tarfile.CHRTYPE,
)


def cifar_inputs(layout, content: st.SearchStrategy) -> st.SearchStrategy:
    """(slot, content, form, member type of the slot, extra member name) for one layout."""
    return st.tuples(
        st.sampled_from(layout.files),
        content,
        st.sampled_from(["folder", "folder", "archive"]),
        st.sampled_from(TAR_TYPES),
        st.none()
        | st.sampled_from(["../x", "/abs/x", f"{layout.folder}/{layout.test_batch}", "a/b"]),
    )


def build_cifar(layout, valid: dict[str, bytes]):
    def build(example, box: Box) -> Path:
        slot, content, form, kind, extra = example
        marker = str(box.outside / "pwned").encode()
        content = content.replace(b"{marker}", marker)
        files = {name: content if name == slot else data for name, data in valid.items()}
        if form == "folder":
            folder = box.input / layout.folder
            folder.mkdir()
            for name, data in files.items():
                (folder / name).write_bytes(data)
            return folder
        entries = [
            (
                f"{layout.folder}/{n}",
                d,
                kind if n == slot else tarfile.REGTYPE,
                str(box.outside / "secret.txt"),
            )
            for n, d in files.items()
        ]
        if extra is not None:
            entries.append((extra, content, tarfile.REGTYPE, ""))
        write_tar(box.input / layout.archive, entries)
        return box.input / layout.archive

    return build


def read_cifar(source: Path, box: Box) -> object:
    return load_cifar10(source)
