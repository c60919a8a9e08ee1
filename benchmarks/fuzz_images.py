"""Fuzz inputs for images: image folders (zip, tar, tar.gz, folder) and single encoded images.

Folders and archives hold odd names, `..` and absolute entries, links, devices and broken
images; single images are valid files of many formats and modes, damaged. See `fuzz_formats`.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
from fuzz_harness import Box, mutate, mutations, noise, write_tar
from hypothesis import strategies as st
from PIL import Image

from cnnlab.data.archive import extract_safely
from cnnlab.data.imagefolder import load_imagefolder
from cnnlab.data.images import decode_image
from cnnlab.errors import CnnlabError

# ---------------------------------------------------------------- image folders


def _encoded(mode: str, fmt: str, size=(6, 5)) -> bytes:
    rng = np.random.default_rng(7)
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(
        mode
    )
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


IMAGES = {
    "png": _encoded("RGB", "PNG"),
    "png-rgba": _encoded("RGBA", "PNG"),
    "png-p": _encoded("P", "PNG"),
    "png-l": _encoded("L", "PNG"),
    "jpeg": _encoded("RGB", "JPEG"),
    "jpeg-cmyk": _encoded("CMYK", "JPEG"),
    "gif": _encoded("P", "GIF"),
    "bmp": _encoded("RGB", "BMP"),
    "tiff": _encoded("RGB", "TIFF"),
    "webp": _encoded("RGB", "WEBP"),
}
contents = (
    st.sampled_from([*IMAGES.values(), b""])
    | st.sampled_from(list(IMAGES.values())).map(lambda d: d[: len(d) // 2])
    | noise(40)
)
component = st.sampled_from(
    [
        "train",
        "test",
        "val",
        "cat",
        "dog",
        "a b",
        "ü",
        ".hidden",
        "__MACOSX",
        "..",
        ".",
        "",
        "README.md",
    ]
) | st.text(min_size=1, max_size=8)
file_name = st.sampled_from(["1.png", "2.jpg", "x.PNG", "y.gif", "README.txt", "noext", "z.webp"])
entry_name = st.one_of(
    st.lists(component, min_size=0, max_size=2).flatmap(
        lambda parts: file_name.map(lambda f: "/".join([*parts, f]))
    ),
    st.sampled_from(
        [
            "../evil.png",
            "../../evil.png",
            "../../../evil.png",
            "train/../../evil.png",
            "{outside}/evil.png",
            "C:\\evil.png",
            "..\\..\\evil.png",
            "./train/cat/1.png",
            "train//cat/1.png",
            "/",
            "",
        ]
    ),
    st.text(max_size=12),
)
ENTRY_TYPES = ("file",) * 8 + ("dir", "symlink", "hardlink", "fifo", "device")
link_target = st.sampled_from(
    [
        "{outside}/secret.txt",
        "../../outside/secret.txt",
        "{outside}",
        "train/cat/1.png",
        "/etc/hostname",
        ".",
    ]
)
entries = st.lists(
    st.tuples(entry_name, st.sampled_from(ENTRY_TYPES), contents, link_target), max_size=6
)
imagefolder_inputs = st.tuples(st.sampled_from(["zip", "tar", "tar.gz", "folder"]), entries)


def _zip(path: Path, items) -> None:
    with zipfile.ZipFile(path, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": repeated entries are wanted here
        for name, kind, data, link in items:
            info = zipfile.ZipInfo(name.rstrip("/") + "/" if kind == "dir" else name or "x")
            mode = {"symlink": stat.S_IFLNK, "fifo": stat.S_IFIFO, "device": stat.S_IFCHR}.get(
                kind, stat.S_IFREG
            )
            info.external_attr = (mode | 0o644) << 16
            archive.writestr(info, link.encode() if kind == "symlink" else data)


def _folder(root: Path, items, box: Box) -> None:
    for name, kind, data, link in items:
        parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
        if not parts or name.startswith(str(box.root)):
            continue  # a folder cannot hold a '..' or absolute entry
        path = root.joinpath(*parts)
        if os.path.lexists(path):
            continue  # a repeated name (writing into a fifo made here would block)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "dir":
                path.mkdir(exist_ok=True)
            elif kind == "symlink":
                os.symlink(link, path)
            elif kind == "hardlink":
                os.link(box.outside / "secret.txt", path)
            elif kind == "fifo":
                os.mkfifo(path)
            else:
                path.write_bytes(data)
        except (OSError, ValueError):
            continue  # a name the file system refuses (NUL, a file as a folder, surrogates)


def build_imagefolder(example, box: Box) -> Path:
    kind, items = example
    outside = str(box.outside)
    items = [
        (n.replace("{outside}", outside), k, d, t.replace("{outside}", outside))
        for n, k, d, t in items
    ]
    if kind == "folder":
        _folder(box.input / "data", items, box)
        (box.input / "data").mkdir(exist_ok=True)
        return box.input / "data"
    path = box.input / f"data.{kind}"
    if kind == "zip":
        _zip(path, items)
        return path
    types = {
        "file": tarfile.REGTYPE,
        "dir": tarfile.DIRTYPE,
        "symlink": tarfile.SYMTYPE,
        "hardlink": tarfile.LNKTYPE,
        "fifo": tarfile.FIFOTYPE,
        "device": tarfile.CHRTYPE,
    }
    write_tar(
        path, [(n, d, types[k], t) for n, k, d, t in items], "w:gz" if kind == "tar.gz" else "w"
    )
    return path


def read_imagefolder(source: Path, box: Box) -> object:
    """Load it (cache in cache/), and for an archive also extract it into target/; both run."""
    errors = []
    for step in (
        lambda: load_imagefolder(source, cache_dir=box.cache, workers=1),
        lambda: extract_safely(source, box.target) if source.is_file() else None,
    ):
        try:
            step()
        except Exception as error:  # noqa: BLE001 - raised below, a non-cnnlab one first
            errors.append(error)
    findings = [error for error in errors if not isinstance(error, CnnlabError)]
    if findings or errors:
        raise (findings or errors)[0]
    return None


# ---------------------------------------------------------------- single images

image_inputs = st.tuples(
    st.sampled_from(sorted(IMAGES)),
    mutations,
    st.sampled_from([1, 3]),
    st.tuples(st.integers(1, 12), st.integers(1, 12)),
    st.sampled_from(["crop", "stretch", "pad"]),
)


def build_image(example, box: Box):
    name, mutation, channels, size, resize = example
    return mutate(IMAGES[name], mutation), channels, size, resize


def read_image(source, box: Box) -> object:
    data, channels, size, resize = source
    return decode_image(data, source="fuzz.img", channels=channels, size=size, resize=resize)
