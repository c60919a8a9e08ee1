"""`cnnlab export RUN` end to end on tiny trained runs: every format proved, export.json, the
file properties, flip averaging, spec / user-file / transfer models, and the failure paths."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import cnnlab
from cnnlab.cli import main
from cnnlab.export import extra
from cnnlab.export.formats import FORMATS, ExportFormat
from cnnlab.export.metadata import read_metadata
from cnnlab.export.safetensors_format import load_safetensors
from cnnlab.export.torchscript_format import load_torchscript
from cnnlab.runs import RunDir

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parents[2]
SPEC = "model.options.spec=conv(4, 3, pad=1) relu pool(2) flatten linear"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, make_gray_run, gray_run):
    """Runs of the four kinds of model: registered (conv1), a spec with flip averaging, a
    user's file and a transfer net fine-tuned from the conv1 run."""
    out = tmp_path_factory.mktemp("export_runs")
    user = f"model.name={ROOT / 'examples' / 'my_model.py'}:SmallCNN"
    return {
        "conv1": gray_run,
        "spec_flip": make_gray_run(out, "spec", "model.name=spec", SPEC, "model.tta_flip=true"),
        "user": make_gray_run(out, "user", user, "train.epochs=1"),
        "transfer": make_gray_run(
            out, "transfer", f"model.pretrained={gray_run}", "train.epochs=1"
        ),
    }


def export_json(folder: Path) -> dict:
    return json.loads((folder / "export.json").read_text())


def test_every_format_is_proved_with_int8(runs, tmp_path, capsys):
    out = tmp_path / "exp"
    args = ["export", str(runs["conv1"]), "--format", "onnx,torchscript"]
    code = main([*args, "--format", "safetensors", "--out", str(out), "--quantize", "int8"])
    said = capsys.readouterr()
    assert code == 0, said.err
    record = export_json(out)
    assert record["passed"] is True and record["proof"]["split"] == "test"
    assert list(record["formats"]) == ["onnx", "torchscript", "safetensors"]
    for name, entry in record["formats"].items():
        assert entry["passed"] is True and entry["top1_agreement"] == 1.0, name
        assert entry["max_abs_probability_difference"] <= entry["tolerance"] == 1e-4
        assert entry["bytes"] == (out / entry["file"]).stat().st_size
        assert entry["export_accuracy"] == entry["run_accuracy"]
    assert record["formats"]["onnx"]["opset"] == 18
    metrics = json.loads((runs["conv1"] / "metrics.json").read_text())
    assert record["formats"]["onnx"]["run_accuracy"] == pytest.approx(metrics["accuracy"])
    int8 = record["int8"]
    assert int8["passed"] is None and (out / "model.int8.onnx").is_file()
    assert int8["accuracy_change"] == pytest.approx(int8["export_accuracy"] - int8["run_accuracy"])
    assert int8["bytes"] < record["formats"]["onnx"]["bytes"]
    assert "model.int8.onnx (int8" in said.out and "wrote" in said.out


def test_onnx_properties_follow_the_contract(runs):
    result = cnnlab.export(runs["conv1"])  # the default: onnx into RUN/export
    assert result.folder == runs["conv1"] / "export"
    proto = onnx.load(str(result.folder / "model.onnx"))
    props = {p.key: p.value for p in proto.metadata_props}
    meta = read_metadata(props)
    assert (meta.run, meta.class_names, meta.input_shape) == ("gray", ("0", "1", "7"), (1, 28, 28))
    assert (meta.channel_order, meta.tta_flip, meta.engine) == ("L", False, "torch")
    assert meta.input_stats == RunDir(runs["conv1"]).read_input_stats()
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert cnnlab.export is not None and callable(cnnlab.export)  # the package answers too


def test_flip_averaging_and_a_spec_model(runs, capsys):
    run = runs["spec_flip"]
    assert (
        main(["export", str(run), "--format", "onnx", "--format", "torchscript,safetensors"]) == 0
    )
    record = export_json(run / "export")
    assert record["passed"] and "flip-averaged" in record["proof"]["reference"]
    module, meta = load_torchscript(run / "export" / "model.pt")
    assert meta.tta_flip is True
    model, _ = load_safetensors(run / "export" / "model.safetensors")
    x = torch.rand(3, 1, 28, 28)
    with torch.inference_mode():
        flipped = (model(x) + model(x.flip(-1))) / 2
        np.testing.assert_allclose(module(x).numpy(), flipped.numpy(), atol=1e-5)
        assert not torch.allclose(model(x), flipped, atol=1e-5)  # the flip matters here


@pytest.mark.parametrize("kind", ["user", "transfer"])
def test_a_user_file_and_a_transfer_net_export(runs, kind, capsys):
    run = runs[kind]
    assert main(["export", str(run), "--format", "onnx,safetensors"]) == 0, capsys.readouterr().err
    record = export_json(run / "export")
    assert record["passed"] and record["formats"]["safetensors"]["top1_agreement"] == 1.0
    json_beside = json.loads((run / "export" / "model.json").read_text())
    expected = "transfer" if kind == "transfer" else "model"
    assert json_beside["record"]["architecture"]["kind"] == expected


def test_a_tampered_file_fails_naming_the_disagreement(runs, tmp_path, monkeypatch, capsys):
    real = FORMATS["onnx"]

    def write_tampered(source, path, opset):
        real.write(source, path, opset)
        proto = onnx.load(str(path))
        for tensor in proto.graph.initializer:  # every weight negated: the classes change
            values = onnx.numpy_helper.to_array(tensor)
            if values.dtype == np.float32:
                tensor.CopyFrom(onnx.numpy_helper.from_array(-values, tensor.name))
        path.write_bytes(proto.SerializeToString())
        return path

    monkeypatch.setitem(
        FORMATS, "onnx", ExportFormat(real.file, write_tampered, real.answer, real.needs, True)
    )
    out = tmp_path / "bad"
    assert main(["export", str(runs["conv1"]), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cnnlab: error: model.onnx does not answer as the run: top-1 agreement")
    assert "test image " in err and "Traceback" not in err
    record = export_json(out)
    assert record["passed"] is False and record["formats"]["onnx"]["disagreements"]
    first = record["formats"]["onnx"]["disagreements"][0]
    assert first["run_class"] != first["export_class"] and 0 <= first["run_margin"] <= 1


def test_a_missing_extra_says_what_to_install(runs, monkeypatch, capsys):
    real = extra.importlib.import_module

    def fail(name, *args):
        if name == "onnxruntime":
            raise ModuleNotFoundError("No module named 'onnxruntime'", name=name)
        return real(name, *args)

    monkeypatch.setattr(extra.importlib, "import_module", fail)
    assert main(["export", str(runs["conv1"])]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "cnnlab: error: cnnlab export needs onnxruntime, which is not installed: "
        "pip install 'cnnlab[export]'"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "onnx,tflite"], "export format 'tflite': expected one or more of onnx"),
        (["--opset", "11"], "--opset must be an integer >= 18"),
        (["--tolerance", "-1"], "--tolerance must be a finite number >= 0"),
    ],
)
def test_bad_options_are_named(runs, args, message, capsys):
    assert main(["export", str(runs["conv1"]), *args]) == 1
    assert message in capsys.readouterr().err


def test_a_scratch_run_is_refused_with_the_reason(tmp_path, capsys):
    run = tmp_path / "scratch-run"
    run.mkdir()
    np.savez(run / "best.npz", w=np.zeros(2))
    assert main(["export", str(run), "--format", "torchscript"]) == 1
    assert "NumPy scratch run (best.npz): it exports to onnx only" in capsys.readouterr().err


def test_without_a_test_split_the_proof_uses_training_images(runs, tmp_path, monkeypatch, capsys):
    from cnnlab.export import api

    real = api.run_data

    def no_test(loaded):
        data = real(loaded)
        splits = {name: split for name, split in data.splits.items() if name != "test"}
        return dataclasses.replace(data, splits=splits)

    monkeypatch.setattr(api, "run_data", no_test)
    out = tmp_path / "train-proof"
    assert main(["export", str(runs["conv1"]), "--out", str(out)]) == 0
    assert "has no test split: the proof uses 60 training images" in capsys.readouterr().err
    proof = export_json(out)["proof"]
    assert (proof["split"], proof["images"]) == ("train", 60)
