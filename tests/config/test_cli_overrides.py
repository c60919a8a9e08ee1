"""Command-line flags are typed values; only `--set key=value` is read as YAML, and it wins."""

from __future__ import annotations

import pytest
import torch

from cnnlab.cli import build_parser, main, scratch_cmd, train_cmd
from cnnlab.config import Overrides, load_experiments
from cnnlab.errors import ConfigError

TINY_RUN = [
    "train", "--dataset", "mnist-sample", "--per-class", "4", "--classes", "0,1", "--epochs", "1",
    "--device", "cpu", "--no-report", "--quiet",
]  # fmt: skip


@pytest.fixture
def denormals_restored():
    """Training flushes denormals process-wide (`configure_cpu`); tests that run after this
    one (hypothesis's float strategies) need them back."""
    yield
    torch.set_flush_denormal(False)


def train_flags(*argv: str) -> Overrides:
    return train_cmd.overrides_from_flags(build_parser().parse_args(["train", *argv]))


def test_flags_keep_the_types_argparse_gives_and_the_strings_the_user_typed():
    overrides = train_flags(
        "--lr", "1e-3", "--epochs", "3", "--batch-size", "16", "--seed", "2",
        "--name", "no", "--out", "2024-01-01", "--model", "conv1", "--offline", "--tensorboard",
    )  # fmt: skip
    assert overrides.values == {
        "model.name": "conv1",
        "train.epochs": 3,
        "optim.lr": 0.001,
        "train.batch_size": 16,
        "train.seed": 2,
        "out": "2024-01-01",
        "name": "no",
        "train.tensorboard": True,
        "data.offline": True,
    }
    assert type(overrides.values["optim.lr"]) is float and overrides.texts == ()
    assert "data.offline" not in train_flags().values


@pytest.mark.parametrize(
    ("text", "classes"),
    [("0,1,7", (0, 1, 7)), ("cat,dog", ("cat", "dog")), (" 0, cat ,", (0, "cat"))],
)
def test_classes_are_ints_when_decimal_else_names(text, classes):
    overrides = train_flags("--classes", text)
    assert overrides.values["data.classes"] == list(classes)
    assert load_experiments(None, overrides)[0].data.classes == classes


@pytest.mark.parametrize("name", ["no", "2024-01-01", "null", "1e3"])
def test_a_name_flag_is_the_string_typed(name):
    assert load_experiments(None, train_flags("--name", name))[0].name == name


def test_set_is_read_as_yaml_and_wins_over_flags(tmp_path):
    with pytest.raises(ConfigError, match=r"^config: name: expected a string, got False$"):
        load_experiments(None, train_flags("--set", "name=no"))
    (config,) = load_experiments(None, train_flags("--name", "a", "--set", "name=b"))
    assert config.name == "b"
    path = tmp_path / "c.yaml"
    path.write_text("compare:\n  - {name: a, optim.lr: 0.5}\n  - {name: b, train.epochs: 9}\n")
    file_then_entry_then_flags_then_set = train_flags(
        "--lr", "0.1", "--epochs", "2", "--set", "train.epochs=3"
    )
    configs = load_experiments(path, file_then_entry_then_flags_then_set)
    assert [(c.name, c.optim.lr, c.train.epochs) for c in configs] == [
        ("a", 0.1, 3),
        ("b", 0.1, 3),
    ]


def test_set_name_no_fails_on_the_command_line_naming_the_key(tmp_path, capsys):
    assert main([*TINY_RUN, "--out", str(tmp_path), "--set", "name=no"]) == 1
    assert "name: expected a string, got False" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["no", "2024-01-01"])
def test_train_with_a_name_yaml_would_misread(name, tmp_path, denormals_restored):
    assert main([*TINY_RUN, "--out", str(tmp_path), "--name", name]) == 0
    assert [path.name for path in tmp_path.iterdir()] == [name]


def test_scratch_flags_are_typed_too():
    args = build_parser().parse_args(
        ["scratch", "train", "--model", "fc", "--hidden", "100,50", "--lr-decay", "0.5",
         "--name", "off", "--set", "train.epochs=2"]
    )  # fmt: skip
    overrides = scratch_cmd.overrides_from_flags(args)
    assert overrides.values == {
        "model.name": "scratch:fc",
        "name": "off",
        "model.options.hidden_dims": [100, 50],
        "optim.schedule": "step",
        "optim.step_size": 1,
        "optim.gamma": 0.5,
    }
    (config,) = load_experiments(None, overrides)
    assert (config.name, config.train.epochs) == ("off", 2)


def test_skip_bad_is_a_train_flag():
    assert train_flags("--skip-bad").values["data.skip_bad"] is True
    assert "data.skip_bad" not in train_flags().values  # the config's setting stands
