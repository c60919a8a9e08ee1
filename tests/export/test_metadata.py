"""An export's `cnnlab.*` metadata_props: written as strings, read back typed, malformed refused."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cnnlab.data.input_stats import InputStats
from cnnlab.errors import CnnlabError
from cnnlab.export.metadata import ExportMetadata, MetadataError, metadata_props, read_metadata

STATS = InputStats(
    images=40, channels=1, image_size=(28, 28), original_size=(28, 28), pixel_min=(0,),
    pixel_max=(255,), pixel_mean=(33.5,), pixel_std=(78.2,), image_mean=33.5,
    image_mean_std=9.1, dark_background=1.0, light_background=0.0, contrast=255.0,
)  # fmt: skip


def props(**changes) -> dict[str, str]:
    arguments = dict(
        version="0.1.0", run="digits", class_names=["0", "1", "7"], input_shape=(1, 28, 28),
        mean=[0.13], std=[0.31], tta_flip=False, engine="torch", input_stats=STATS,
    )  # fmt: skip
    return metadata_props(**{**arguments, **changes})


def test_written_as_strings_and_read_back_typed():
    written = props()
    assert all(isinstance(v, str) for v in written.values())
    assert written["cnnlab.format_version"] == "1"
    assert json.loads(written["cnnlab.class_names"]) == ["0", "1", "7"]
    assert written["cnnlab.channel_order"] == "L" and written["cnnlab.tta_flip"] == "false"
    assert written["cnnlab.input_range"] == "[0, 1]" and written["cnnlab.resize"] == "crop"
    assert read_metadata(written) == ExportMetadata(
        format_version="1", version="0.1.0", run="digits", class_names=("0", "1", "7"),
        input_shape=(1, 28, 28), channel_order="L", input_range="[0, 1]", mean=(0.13,),
        std=(0.31,), resize="crop", tta_flip=False, input_stats=STATS, engine="torch",
    )  # fmt: skip


def test_rgb_numpy_run_without_input_stats():
    written = props(
        input_shape=(3, 16, 16), mean=[0.1, 0.2, 0.3], std=[1, 1, 1], tta_flip=True,
        engine="numpy", input_stats=None,
    )  # fmt: skip
    assert "cnnlab.input_stats" not in written
    meta = read_metadata(written)
    assert meta.channel_order == "RGB" and meta.tta_flip and meta.input_stats is None
    assert meta.std == (1.0, 1.0, 1.0) and meta.engine == "numpy"


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("cnnlab.format_version", "2", "'1'"),
        ("cnnlab.class_names", "[0, 1]", "class names"),
        ("cnnlab.class_names", "not json", "class names"),
        ("cnnlab.input_shape", "[2, 28, 28]", "[C, H, W]"),
        ("cnnlab.input_shape", "[1, 28]", "[C, H, W]"),
        ("cnnlab.channel_order", "RGB", "'L'"),
        ("cnnlab.mean", "[0.1, 0.2]", "1 numbers"),
        ("cnnlab.std", "[0]", "positive"),
        ("cnnlab.tta_flip", "yes", "'true' or 'false'"),
        ("cnnlab.engine", "jax", "'torch' or 'numpy'"),
        ("cnnlab.input_stats", '{"images": 3}', "keys"),
        ("cnnlab.input_range", "[0, 255]", "'[0, 1]'"),
    ],
)
def test_malformed_metadata_is_refused_naming_the_key(key, value, said):
    bad = {**props(), key: value}
    with pytest.raises(CnnlabError) as error:
        read_metadata(bad)
    assert key in str(error.value) and said in str(error.value)


def test_missing_keys_are_named():
    written = props()
    del written["cnnlab.run"], written["cnnlab.engine"]
    with pytest.raises(MetadataError, match="missing cnnlab.run, cnnlab.engine"):
        read_metadata(written)


def test_metadata_imports_neither_torch_nor_onnx():
    code = (
        "import sys, cnnlab.export.metadata\n"
        "assert 'torch' not in sys.modules and 'onnx' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
