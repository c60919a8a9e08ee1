"""Config: validation at the edge, overrides, compare lists, round trip."""

from __future__ import annotations

import pytest
import yaml

from cnnlab.config import ExperimentConfig, build_config, dump_config, load_experiments
from cnnlab.errors import ConfigError


def test_defaults_are_valid():
    config = load_experiments()[0]
    assert config == ExperimentConfig()


def test_unknown_key_is_named_with_allowed_keys():
    with pytest.raises(
        ConfigError,
        match=r"unknown key optim\.lrr \(did you mean optim\.lr\?\).*allowed keys in optim: optimizer, lr",
    ):
        load_experiments(None, ["optim.lrr=0.1"])


def test_unknown_section_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("trian: {epochs: 3}\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown key trian \(did you mean train\?\)"):
        load_experiments(path)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epochs=0", r"train\.epochs: expected an integer >= 1, got 0"),
        ("train.epochs=abc", r"train\.epochs: expected an integer, got 'abc'"),
        ("optim.lr=-1", r"optim\.lr: expected a positive number"),
        ("data.fraction=1.5", r"data\.fraction: expected a number in \(0, 1\]"),
        ("train.device=tpu", r"train\.device: expected one of auto, cpu, cuda, mps"),
        ("optim.nesterov=true", r"optim\.nesterov: expected only with optimizer sgd"),
        ("optim.betas=[0.9]", r"optim\.betas: expected a list of 2 values"),
        ("train.monitor=val_acc", r"train\.monitor: expected one of val_accuracy"),
        ("epochs=3", r"unknown key epochs"),
    ],
)
def test_bad_values_name_the_key_and_what_was_expected(override, message):
    with pytest.raises(ConfigError, match=message):
        load_experiments(None, [override])


def test_overrides_are_yaml_typed_and_scientific_notation_works(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim: {lr: 1e-3}\ndata: {classes: [0, cat]}\n")
    config = load_experiments(
        path, ["train.batch_size=32", "data.val=0.1", "model.options.hidden=7"]
    )[0]
    assert config.optim.lr == 0.001
    assert config.data.classes == (0, "cat")
    assert config.train.batch_size == 32 and config.data.val == 0.1
    assert config.model.options == {"hidden": 7}


def test_compare_gives_one_config_per_entry_with_common_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "train: {epochs: 5}\ncompare:\n  - {name: a, model.name: fc_only}\n  - {name: b, model.name: conv1}\n"
    )
    configs = load_experiments(path, ["train.epochs=7"])
    assert [c.model.name for c in configs] == ["fc_only", "conv1"]
    assert [c.run_name for c in configs] == ["a", "b"]
    assert all(c.train.epochs == 7 for c in configs)


def test_compare_entries_with_one_name_are_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("compare:\n  - {optim.lr: 0.1}\n  - {optim.lr: 0.01}\n")
    with pytest.raises(ConfigError, match=r"same name"):
        load_experiments(path)


def test_resolved_config_round_trips_through_yaml():
    config = load_experiments(
        None, ["data.classes=[0,1,7]", "optim.lr=0.05", "data.image_size=[64,64]"]
    )[0]
    again = load_experiments(None, base=yaml.safe_load(dump_config(config)))[0]
    assert again == config


def test_bad_yaml_and_missing_file_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.yaml does not exist"):
        load_experiments(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {epochs: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml is not valid YAML"):
        load_experiments(bad)


@pytest.mark.parametrize("value", [float("inf"), "1e400", float("-inf"), float("nan")])
def test_learning_rates_must_be_finite(value):
    with pytest.raises(ConfigError, match=r"optim\.lr: expected a (finite|positive) number"):
        build_config({"optim": {"lr": value}})


def test_a_key_given_twice_in_a_config_file_is_refused_with_its_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("optim:\n  lr: 0.1\n  momentum: 0.5\n  lr: 0.01\n")
    with pytest.raises(ConfigError, match=r"key 'lr' appears twice .*lines 2 and 4"):
        load_experiments(path)


def test_image_size_of_one_number_is_a_square_and_huge_sizes_say_the_memory():
    assert build_config({"data": {"image_size": 64}}).data.image_size == (64, 64)
    assert build_config({"data": {"image_size": [32, 48]}}).data.image_size == (32, 48)
    with pytest.raises(ConfigError, match=r"100000x100000 .* 27\.9 GiB per RGB image"):
        build_config({"data": {"image_size": [100000, 100000]}})
    with pytest.raises(ConfigError, match=r"positive \(H, W\) or one side, e.g. 64"):
        build_config({"data": {"image_size": [0, 5]}})
