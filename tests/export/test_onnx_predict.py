"""`cnnlab predict MODEL.onnx`: the run's predictions, formats and warnings, without torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli import main
from cnnlab.runs.predictions import read_predictions


def predict(capsys, model, images, out, *flags) -> tuple[int, str]:
    code = main(["predict", str(model), "--images", str(images), "--out", str(out), *flags])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("flags", [(), ("--invert",)], ids=["plain", "invert"])
def test_same_predictions_and_warnings_as_the_run(
    digits_run, digits_onnx, digit_files, tmp_path, capsys, flags
):
    code, run_err = predict(capsys, digits_run, digit_files, tmp_path / "run.csv", *flags)
    assert code == 0
    code, onnx_err = predict(capsys, digits_onnx, digit_files, tmp_path / "onnx.csv", *flags)
    assert code == 0
    by_run = read_predictions(tmp_path / "run.csv")
    by_onnx = read_predictions(tmp_path / "onnx.csv")
    assert by_onnx.ids == by_run.ids == ("0.png", *(f"{i}.png" for i in range(1, 8)),
                                         "more/big.jpg", "more/wide.bmp")  # fmt: skip
    assert by_onnx.class_names == by_run.class_names
    assert list(by_onnx.predicted) == list(by_run.predicted)
    np.testing.assert_allclose(by_onnx.probabilities, by_run.probabilities, atol=1e-5)
    assert (by_onnx.y_true == -1).all()
    assert onnx_err == run_err  # the same input check: inverted images draw a polarity warning
    assert ("--invert" in onnx_err) == bool(flags)


def test_leaderboard_is_the_runs(digits_run, digits_onnx, digit_files, tmp_path, capsys):
    for model, out in ((digits_run, "run.csv"), (digits_onnx, "onnx.csv")):
        assert (
            predict(capsys, model, digit_files, tmp_path / out, "--format", "leaderboard")[0] == 0
        )
    text = (tmp_path / "onnx.csv").read_text()
    assert text == (tmp_path / "run.csv").read_text()
    assert text.splitlines()[0] == "id,label" and text.splitlines()[1].startswith("0.png,")


def test_resized_files_are_warned_about(digits_onnx, tmp_path, capsys):
    digit = np.zeros((120, 30), np.uint8)
    digit[40:80, 10:20] = 255  # a tall "1", light on dark
    for i in range(3):
        Image.fromarray(digit).save(tmp_path / f"tall{i}.png")
    code, err = predict(capsys, digits_onnx, tmp_path, tmp_path / "p.csv")
    assert code == 0
    assert "cnnlab: warning: 3 of 3 images were resized to the run's 28x28" in err


def test_predict_onnx_never_imports_torch(digits_onnx, digit_files, tmp_path):
    out = tmp_path / "predictions.csv"
    code = textwrap.dedent(
        f"""
        import sys
        from cnnlab.cli import main
        code = main(["predict", {str(digits_onnx)!r}, "--images", {str(digit_files)!r},
                     "--out", {str(out)!r}, "--format", "predictions"])
        assert code == 0, code
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx"))
        assert not heavy, heavy
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert len(read_predictions(out).ids) == 10


def test_refusals_name_what_was_expected(digits_onnx, digit_files, tmp_path, capsys):
    import onnx

    code, err = predict(capsys, digits_onnx, "mnist-sample", tmp_path / "p.csv")
    assert code == 1 and "needs the run: cnnlab predict RUN --images mnist-sample" in err
    code, err = predict(capsys, digits_onnx, digit_files, tmp_path / "p.csv", "--device", "cuda")
    assert code == 1 and "--device cuda: an ONNX file runs on the CPU" in err
    code, err = predict(capsys, tmp_path / "none.onnx", digit_files, tmp_path / "p.csv")
    assert code == 1 and "none.onnx: no such file" in err
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    code, err = predict(capsys, tmp_path / "junk.onnx", digit_files, tmp_path / "p.csv")
    assert code == 1 and "junk.onnx: not a readable ONNX file" in err
    proto = onnx.load(str(digits_onnx))
    for prop in proto.metadata_props:
        if prop.key == "cnnlab.class_names":
            prop.value = '["only one"]'
    onnx.save(proto, str(tmp_path / "bad.onnx"))
    code, err = predict(capsys, tmp_path / "bad.onnx", digit_files, tmp_path / "p.csv")
    assert code == 1 and "bad.onnx" in err and "'logits' has shape" in err
    del proto.metadata_props[:]
    onnx.save(proto, str(tmp_path / "bare.onnx"))
    code, err = predict(capsys, tmp_path / "bare.onnx", digit_files, tmp_path / "p.csv")
    assert code == 1 and "bare.onnx: metadata: missing cnnlab.format_version" in err
    assert not (tmp_path / "p.csv").exists()
