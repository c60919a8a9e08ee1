"""The `cnnlab.*` file properties: a round trip, clear errors, and no torch import."""

import json
import subprocess
import sys

import pytest

from cnnlab.errors import ExportError
from cnnlab.export.metadata import ExportMetadata, channel_order, metadata_props, read_metadata

META = ExportMetadata(
    version="0.1.0",
    run="digits",
    class_names=("0", "1", "7"),
    input_shape=(1, 28, 28),
    channel_order="L",
    mean=(0.13,),
    std=(0.31,),
    tta_flip=True,
    engine="torch",
    input_stats={"images": 60, "channels": 1},
)


def test_properties_are_the_contract_keys_and_read_back():
    props = metadata_props(META)
    assert props["cnnlab.format_version"] == "1"
    assert props["cnnlab.input_range"] == "[0, 1]"
    assert props["cnnlab.resize"] == "crop"
    assert props["cnnlab.tta_flip"] == "true"
    assert json.loads(props["cnnlab.class_names"]) == ["0", "1", "7"]
    assert json.loads(props["cnnlab.input_shape"]) == [1, 28, 28]
    assert all(isinstance(v, str) for v in props.values())
    assert read_metadata(props) == META
    without = metadata_props(ExportMetadata(**{**META.__dict__, "input_stats": None}))
    assert "cnnlab.input_stats" not in without


def test_missing_or_bad_properties_are_named():
    props = metadata_props(META)
    del props["cnnlab.class_names"]
    with pytest.raises(ExportError, match="cnnlab.class_names are missing"):
        read_metadata(props)
    with pytest.raises(ExportError, match="input_shape must be"):
        read_metadata({**metadata_props(META), "cnnlab.input_shape": "[1, 28]"})
    with pytest.raises(
        ExportError, match="takes 1 \\(L\\) or 3 \\(RGB\\) channels; this run takes 2"
    ):
        channel_order(2)


def test_reading_properties_imports_no_torch():
    code = "import sys, cnnlab.export.metadata; print('torch' in sys.modules)"
    said = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert said.stdout.strip() == "False"
