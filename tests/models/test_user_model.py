"""A user's own network from `path/to/mymodel.py:MyNet`."""

import json
import textwrap
from pathlib import Path

import pytest
import torch

from cnnlab.cli import main
from cnnlab.errors import ModelError
from cnnlab.models import build_model
from cnnlab.runs import load_run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "my_model.py"

GOOD = """
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Widths:  # dataclasses need the module registered while it runs
    hidden: int = 16


class MyNet(nn.Module):
    def __init__(self, in_shape, num_classes, hidden=Widths().hidden):
        super().__init__()
        c, h, w = in_shape
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU())
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x):
        return self.fc(self.body(x))


class Fixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))

    def forward(self, x):
        return self.net(x)


class Usual(nn.Module):  # the signature most PyTorch code has
    def __init__(self, num_classes=10, in_channels=1, width=4):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(self.conv(x).mean(dim=(2, 3)))


class Sized(nn.Module):  # asks for the image size and the whole shape as well
    def __init__(self, *, num_classes, image_size, in_shape, in_channels=3):
        super().__init__()
        self.seen = (num_classes, image_size, in_shape, in_channels)
        self.fc = nn.Linear(in_shape[0] * in_shape[1] * in_shape[2], num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


class NeedsDepth(nn.Module):
    def __init__(self, num_classes, depth):
        super().__init__()


class Broken(nn.Module):
    def __init__(self, in_shape, num_classes):
        raise ValueError("widths do not add up")


NOT_A_MODULE = 3


class Plain:
    pass
"""


def _write(tmp_path, source: str, name: str = "mymodel.py") -> str:
    path = tmp_path / "models" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return str(path)


def test_class_taking_shape_classes_and_options(tmp_path):
    path = _write(tmp_path, GOOD)
    model = build_model(f"{path}:MyNet", (3, 8, 8), 5, hidden=7)
    assert model.body[1].weight.shape == (7, 3 * 8 * 8)
    assert model(torch.zeros(2, 3, 8, 8)).shape == (2, 5)


def test_class_taking_num_classes_and_in_channels_keywords(tmp_path):
    path = _write(tmp_path, GOOD)
    model = build_model(f"{path}:Usual", (3, 8, 8), 5, width=6)  # options as keywords
    assert model.conv.in_channels == 3 and model.conv.out_channels == 6
    assert model(torch.zeros(2, 3, 8, 8)).shape == (2, 5)


@pytest.mark.parametrize(
    ("in_shape", "image_size"), [((1, 12, 12), 12), ((3, 8, 12), (8, 12))], ids=["square", "wide"]
)
def test_class_taking_image_size_and_in_shape_keywords(tmp_path, in_shape, image_size):
    path = _write(tmp_path, GOOD)
    model = build_model(f"{path}:Sized", in_shape, 4)
    assert model.seen == (4, image_size, in_shape, in_shape[0])


def test_class_taking_no_arguments(tmp_path):
    path = _write(tmp_path, GOOD)
    model = build_model(f"{path}:Fixed", (1, 28, 28), 10)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_two_files_with_the_same_name_do_not_collide(tmp_path):
    first = _write(tmp_path, GOOD)
    other = tmp_path / "other"
    other.mkdir()
    second = other / "mymodel.py"
    second.write_text(
        "from torch import nn\nclass MyNet(nn.Linear):\n    def __init__(self):\n        "
        "super().__init__(1, 1)\n"
    )
    assert build_model(f"{second}:MyNet", (1, 1, 1), 1).in_features == 1
    assert build_model(f"{first}:MyNet", (1, 2, 2), 3).fc.out_features == 3


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "import not_a_module_cnnlab\n",
            r"mymodel\.py' failed to import: ModuleNotFoundError: No module named "
            r"'not_a_module_cnnlab'",
        ),
        ("def broken(:\n", r"mymodel\.py' failed to import: SyntaxError"),
        (
            "raise RuntimeError('no GPU here')\n",
            r"mymodel\.py' failed to import: RuntimeError: no GPU here",
        ),
    ],
)
def test_a_file_that_fails_to_import_names_the_file_and_reason(tmp_path, source, message):
    path = _write(tmp_path, source)
    with pytest.raises(ModelError, match=message):
        build_model(f"{path}:MyNet", (1, 28, 28), 10)


@pytest.mark.parametrize(
    ("class_name", "message"),
    [
        (
            "NOT_A_MODULE",
            r"'NOT_A_MODULE' in model file '.*mymodel\.py' is not an nn\.Module subclass \(it is "
            r"int 3\)",
        ),
        ("Plain", r"'Plain' in model file '.*mymodel\.py' is not an nn\.Module subclass"),
        (
            "Missing",
            r"mymodel\.py' has no class 'Missing'; nn\.Module classes it defines: Broken, Fixed, "
            r"MyNet",
        ),
        (
            "Broken",
            r"building Broken\(in_shape, num_classes\) from model file '.*' failed: ValueError: "
            r"widths do not add up",
        ),
    ],
)
def test_wrong_classes_name_the_file_and_reason(tmp_path, class_name, message):
    path = _write(tmp_path, GOOD)
    with pytest.raises(ModelError, match=message):
        build_model(f"{path}:{class_name}", (1, 28, 28), 10)


def test_options_the_class_cannot_take(tmp_path):
    path = _write(tmp_path, GOOD)
    with pytest.raises(
        ModelError, match=r"Fixed\(\) in model file '.*' fits none of .* options given: depth"
    ):
        build_model(f"{path}:Fixed", (1, 28, 28), 10, depth=3)


def test_a_signature_no_form_fits_is_refused_with_the_forms(tmp_path):
    path = _write(tmp_path, GOOD)
    with pytest.raises(ModelError) as refused:
        build_model(f"{path}:NeedsDepth", (1, 28, 28), 10)
    message = str(refused.value)
    assert message.startswith(f"NeedsDepth(num_classes, depth) in model file '{path}' fits none")
    assert "(1) NeedsDepth(num_classes=K, **options), plus in_channels=C" in message
    assert "(2) NeedsDepth(in_shape, num_classes, **options)" in message
    assert "(3) NeedsDepth(**options); options given: none" in message
    assert build_model(f"{path}:NeedsDepth", (1, 28, 28), 10, depth=2) is not None
    with pytest.raises(ModelError, match=r"model\.options of Usual .* set in_channels, which"):
        build_model(f"{path}:Usual", (1, 28, 28), 10, in_channels=3)


def test_the_example_trains_through_the_cli_and_its_checkpoint_rebuilds(tmp_path, capsys):
    out = tmp_path / "runs"
    code = main(["train", "--dataset", "mnist-sample", "--model", f"{EXAMPLE}:SmallCNN",
                 "--epochs", "1", "--classes", "0,1,7", "--per-class", "20", "--device", "cpu",
                 "--out", str(out), "--name", "mine", "--quiet", "--no-report"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    run = out / "mine"
    loaded = load_run(run, "best")
    net = loaded.model.net
    assert net.features[0].in_channels == 1 and net.head.out_features == 3
    trained = json.loads((run / "metrics.json").read_text())
    assert main(["eval", str(run)]) == 0  # rebuilt from the checkpoint: the same numbers
    again = json.loads((run / "metrics.json").read_text())
    assert (again["accuracy"], again["loss"]) == (trained["accuracy"], trained["loss"])


def test_missing_file_and_malformed_reference(tmp_path):
    with pytest.raises(ModelError, match=r"model file '.*nowhere\.py' does not exist"):
        build_model(f"{tmp_path / 'nowhere.py'}:MyNet", (1, 28, 28), 10)
    with pytest.raises(ModelError, match=r"a model from a file is named PATH\.py:CLASS"):
        build_model("models/mymodel.py:", (1, 28, 28), 10)
