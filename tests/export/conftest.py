"""A tiny trained run and its ONNX file, shared by the export tests (treat both as read-only).

Until `cnnlab export` writes them, the ONNX file is made here as the export contract says:
`torch.onnx.export` of the run's best model (one input `images` in [0, 1], one output
`logits`, a dynamic batch) with the `cnnlab.*` metadata_props of `export.metadata`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import cnnlab
from cnnlab.cli import main
from cnnlab.data import load_dataset
from cnnlab.export.metadata import metadata_props
from cnnlab.runs import RunDir, load_run


def write_onnx(run_dir: Path, path: Path) -> Path:
    """The run's best model as an ONNX file with the contract's inputs, outputs and metadata."""
    import onnx
    from onnx import helper

    loaded = load_run(run_dir, "best")
    assert not loaded.config.model.tta_flip  # flip averaging is the exporter's to put in-graph
    model = loaded.model.float().eval()
    example = torch.rand(2, *loaded.in_shape)  # (N, C, H, W) in [0, 1]
    with warnings.catch_warnings():  # the TorchScript exporter says it is the legacy one
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model, (example,), str(path), input_names=["images"], output_names=["logits"],
            dynamic_axes={"images": {0: "N"}, "logits": {0: "N"}}, dynamo=False,
        )  # fmt: skip
    proto = onnx.load(str(path))
    helper.set_model_props(
        proto,
        metadata_props(
            version=cnnlab.__version__,
            run=loaded.path.name,
            class_names=loaded.class_names,
            input_shape=loaded.in_shape,
            mean=model.normalize.mean.flatten().tolist(),
            std=model.normalize.std.flatten().tolist(),
            tta_flip=False,
            engine="torch",
            input_stats=RunDir(run_dir).read_input_stats(),
        ),
    )
    onnx.save(proto, str(path))
    return path


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """`cnnlab train --dataset mnist-sample --set data.per_class=10 --epochs 1` on the CPU, in
    fp32 (the ONNX file's precision; `auto` is bf16 on CPUs with bf16 units)."""
    out = tmp_path_factory.mktemp("export_runs")
    code = main(
        [
            "train", "--dataset", "mnist-sample", "--set", "data.per_class=10", "--epochs", "1",
            "--device", "cpu", "--out", str(out), "--name", "digits", "--quiet", "--no-report",
            "--offline", "--set", "train.precision=fp32",
        ]
    )  # fmt: skip
    assert code == 0
    return out / "digits"


@pytest.fixture(scope="session")
def digits_onnx(digits_run, tmp_path_factory) -> Path:
    return write_onnx(digits_run, tmp_path_factory.mktemp("export_onnx") / "model.onnx")


@pytest.fixture(scope="session")
def digit_files(tmp_path_factory) -> Path:
    """A folder of sample test digits in the forms people hand in: 28x28 gray PNGs, a larger
    RGB JPEG (converted and resized), a non-square BMP (cropped), in a subfolder too."""
    test = load_dataset("mnist-sample", offline=True).split("test")
    root = tmp_path_factory.mktemp("digit_files") / "my_digits"
    (root / "more").mkdir(parents=True)
    for i in range(8):
        Image.fromarray(test.images[i, 0]).save(root / f"{i}.png")
    big = Image.fromarray(test.images[8, 0]).resize((56, 56), Image.BILINEAR).convert("RGB")
    big.save(root / "more" / "big.jpg", quality=95)
    wide = np.pad(test.images[9, 0], ((0, 0), (6, 6)))  # (28, 40)
    Image.fromarray(wide).save(root / "more" / "wide.bmp")
    return root
