"""A NumPy scratch run as ONNX: a valid graph whose logits are the engine's, for every model."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
import pytest

import cnnlab
from cnnlab.cli import main
from cnnlab.data import load_dataset
from cnnlab.errors import ConfigError, ModelError
from cnnlab.export.metadata import metadata_props
from cnnlab.export.scratch_onnx import GRAPHS, export_scratch_onnx, scratch_forward
from cnnlab.runs.predictions import read_predictions
from cnnlab.scratch.losses import softmax
from cnnlab.scratch.models import MODELS
from cnnlab.scratch.npz import load_arrays

COMMON = (
    "--dataset", "mnist-sample", "--per-class", "5", "--val", "10", "--epochs", "1",
    "--batch-size", "10", "--lr", "0.01", "--quiet", "--no-report", "--offline",
)  # fmt: skip
RUNS = {
    "convnet": ("--model", "three_layer_convnet", "--filters", "4", "--filter-size", "3",
                "--hidden", "16"),
    "fc": ("--model", "fc", "--hidden", "16"),
    "fc-batchnorm-dropout-float64": ("--model", "fc", "--hidden", "16,12", "--batchnorm",
                                     "--dropout", "0.2", "--dtype", "float64"),
}  # fmt: skip


@pytest.fixture(scope="module", params=sorted(RUNS))
def scratch_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("scratch_export")
    assert main(["scratch", "train", *COMMON, *RUNS[request.param], "--out", str(out),
                 "--name", request.param]) == 0  # fmt: skip
    return out / request.param


@pytest.fixture(scope="module")
def test_images():
    return load_dataset("mnist-sample", offline=True).split("test").images  # (N, 1, 28, 28)


def scratch_metadata(run, in_shape=(1, 28, 28), engine="numpy") -> dict[str, str]:
    weights = load_arrays(run / "best.npz")
    return metadata_props(
        version=cnnlab.__version__, run=run.name, class_names=list(weights["class_names"]),
        input_shape=in_shape, mean=weights["input.mean"].tolist(),
        std=weights["input.std"].tolist(), tta_flip=False, engine=engine,
    )  # fmt: skip


def test_every_scratch_model_has_a_graph():
    assert set(GRAPHS) == set(MODELS)


@pytest.mark.parametrize("opset", [9, 17])
def test_onnx_logits_are_the_engines(scratch_run, test_images, tmp_path, opset):
    path = export_scratch_onnx(
        scratch_run, tmp_path / "model.onnx", scratch_metadata(scratch_run), opset
    )
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == opset
    assert {p.key: p.value for p in proto.metadata_props}["cnnlab.engine"] == "numpy"
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = test_images[:100]
    (logits,) = session.run(["logits"], {"images": images.astype(np.float32) / 255})
    expected = scratch_forward(scratch_run, images)  # (N, K)
    assert logits.shape == expected.shape == (100, 10)
    assert np.abs(logits - expected).max() < 1e-4 * max(1.0, np.abs(expected).max())
    assert (logits.argmax(axis=1) == expected.argmax(axis=1)).all()
    assert np.ptp(expected) > 0  # a trained model, not constant logits


def test_scratch_forward_is_how_the_engine_scored_its_test_split(scratch_run, test_images):
    recorded = read_predictions(scratch_run / "predictions.csv")  # the engine's evaluation
    images = test_images[recorded.positions]
    probabilities = softmax(scratch_forward(scratch_run, images))
    np.testing.assert_allclose(probabilities, recorded.probabilities, atol=2e-6)
    as_floats = scratch_forward(scratch_run, images.astype(np.float32) / 255)
    np.testing.assert_allclose(as_floats, scratch_forward(scratch_run, images), atol=1e-4)


def test_predict_reads_a_scratch_export(scratch_run, digit_files, tmp_path, capsys):
    path = export_scratch_onnx(
        scratch_run, tmp_path / "model.onnx", scratch_metadata(scratch_run), 17
    )
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(path), "--images", str(digit_files), "--out", str(out)]) == 0
    assert "has no cnnlab.input_stats metadata" in capsys.readouterr().err
    predicted = read_predictions(out)
    assert len(predicted.ids) == 10 and predicted.class_names == tuple(str(d) for d in range(10))


def test_bad_exports_are_refused(scratch_run, tmp_path):
    with pytest.raises(ConfigError, match="opset 5: expected 9"):
        export_scratch_onnx(scratch_run, tmp_path / "m.onnx", scratch_metadata(scratch_run), 5)
    with pytest.raises(ModelError, match="cnnlab.engine is 'torch'"):
        metadata = scratch_metadata(scratch_run, engine="torch")
        export_scratch_onnx(scratch_run, tmp_path / "m.onnx", metadata, 17)
    with pytest.raises(ModelError, match=r"best.npz: params.W\d is of shape .* needs"):
        metadata = scratch_metadata(scratch_run, in_shape=(1, 20, 20))
        export_scratch_onnx(scratch_run, tmp_path / "m.onnx", metadata, 17)
    assert not (tmp_path / "m.onnx").exists()


def test_cnnlab_export_proves_a_scratch_run_against_its_engine(scratch_run, tmp_path, capsys):
    out = tmp_path / "export"
    assert main(["export", str(scratch_run), "--out", str(out)]) == 0, capsys.readouterr().err
    proof = json.loads((out / "export.json").read_text())
    assert proof["engine"] == "numpy" and proof["passed"]
    onnx_proof = proof["formats"]["onnx"]
    assert (
        onnx_proof["top1_agreement"] == 1.0 and onnx_proof["max_abs_probability_difference"] < 1e-4
    )
    assert main(["export", str(scratch_run), "--format", "torchscript"]) == 1
    assert "scratch" in capsys.readouterr().err
