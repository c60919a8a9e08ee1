"""`cnnlab models` and `cnnlab summary` through `cnnlab.cli.main`."""

import pytest

from cnnlab.cli import main
from cnnlab.models import MODELS


def test_models_lists_every_name(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    names = [line.split()[0] for line in out.splitlines()]
    assert names == [*MODELS, "PATH.yaml", "PATH.py:CLASS"]
    assert "[alias: dnn]" in out


def test_summary_of_conv1_on_mnist(capsys):
    assert main(["summary", "conv1", "--dataset", "mnist"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("conv1: input 1x28x28, 10 classes\n")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[3:8]}
    assert rows["conv"] == ["Conv2d", "32x28x28", "320", "225,792"]
    assert rows["pool"] == ["MaxPool2d", "32x14x14", "0", "0"]
    assert rows["fc"] == ["Linear", "10", "62,730", "62,720"]


def test_summary_with_input_classes_and_options(capsys):
    argv = [
        "summary",
        "convnet_deep",
        "--input",
        "3,32,32",
        "--classes",
        "5",
        "--option",
        "widths=8,16",
        "--option",
        "batch_norm=false",
        "--markdown",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    # convs (C·9 + 1)·F: 224 + 584 + 1,168 + 2,320; fc1 (16·8·8 + 1)·256 = 262,400; fc 257·5 = 1,285
    assert "| total |  |  | 267,981 |" in out
    assert "| head.fc | Linear | 5 | 1,285 | 1,280 |" in out


def test_summary_of_a_spec_given_as_an_option(capsys):
    argv = [
        "summary",
        "spec",
        "--input",
        "1,28,28",
        "--option",
        "spec=conv(4, 3, pad=1) pool(2) flatten linear",
    ]
    assert main(argv) == 0
    assert "4x14x14" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["summary", "resnet19", "--input", "3,32,32"],
            "cnnlab: error: unknown model 'resnet19'; known models:",
        ),
        (["summary", "conv1", "--input", "3x32"], "--input must be C,H,W with positive integers"),
        (["summary", "conv1"], "summary needs an input shape: --dataset NAME or --input C,H,W"),
        (
            ["summary", "conv1", "--dataset", "mnist", "--option", "filters"],
            "--option must be KEY=VALUE",
        ),
        (["summary", "conv1", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
        (
            ["summary", "spec", "--input", "1,7,7", "--option", "spec=conv(8,9) flatten linear"],
            "H' = 1 + (H + 2·pad − k)/stride = 1 + (7 + 0 − 9)/1 < 1",
        ),
    ],
)
def test_summary_errors_go_to_stderr_with_exit_code_1(capsys, argv, message):
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""
