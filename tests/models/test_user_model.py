"""A user's own network from `path/to/mymodel.py:MyNet`."""

import textwrap

import pytest
import torch

from cnnlab.errors import ModelError
from cnnlab.models import build_model

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
        ModelError, match=r"Fixed\(\) in model file '.*' accepts neither .* options given: depth"
    ):
        build_model(f"{path}:Fixed", (1, 28, 28), 10, depth=3)


def test_missing_file_and_malformed_reference(tmp_path):
    with pytest.raises(ModelError, match=r"model file '.*nowhere\.py' does not exist"):
        build_model(f"{tmp_path / 'nowhere.py'}:MyNet", (1, 28, 28), 10)
    with pytest.raises(ModelError, match=r"a model from a file is named PATH\.py:CLASS"):
        build_model("models/mymodel.py:", (1, 28, 28), 10)
