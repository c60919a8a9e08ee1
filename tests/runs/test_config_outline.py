"""`RunDir.read_config_outline` (what a listing of many runs reads) says what a full load of
config.yaml says, whatever the YAML's style, and falls back to the full load where needed."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.config import build_config, dump_config
from cnnlab.errors import CnnlabError
from cnnlab.runs import RunDir


def full_outline(data: dict) -> dict:
    section = lambda name: data.get(name) if isinstance(data.get(name), dict) else {}  # noqa: E731
    epochs = section("train").get("epochs")
    return {
        "model": section("model").get("name"),
        "dataset": section("data").get("dataset"),
        "epochs": epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None,
    }


def outline_of(tmp_path, text: str) -> dict:
    run = RunDir(tmp_path)
    run.config_path.write_text(text, encoding="utf-8")
    return run.read_config_outline()


def test_a_config_cnnlab_wrote(tmp_path):
    config = build_config({"model": {"name": "resnet18"}, "data": {"dataset": "cifar10"},
                           "train": {"epochs": 7}})  # fmt: skip
    assert outline_of(tmp_path, dump_config(config)) == {
        "model": "resnet18", "dataset": "cifar10", "epochs": 7
    }  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        "model: {name: conv1}\ndata: {dataset: 'mnist'}\ntrain: {epochs: 3}\n",
        "optim: {name: adam}\ncompare:\n  - {name: x, model: {name: y}}\nmodel:\n  name: z\n",
        'data:\n  dataset: "imagefolder:photos"\ntrain:\n  epochs: "5"\n',
        "base: &b {name: a}\nmodel: *b\n",  # an alias: the full load
        "train: {epochs: true}\nmodel: {name: null}\ndata: {}\n",
        "model:\n  name: first\n  name: second\n",
        "- a list\n",
    ],
)
def test_styles_agree_with_the_full_load(tmp_path, text):
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        with pytest.raises(CnnlabError, match="expected a mapping"):
            outline_of(tmp_path, text)
        return
    assert outline_of(tmp_path, text) == full_outline(data)


scalars = st.one_of(st.integers(-5, 50), st.text(max_size=6), st.none(), st.booleans())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["name", "dataset", "epochs", "x"]), inner,
                                        max_size=3), max_leaves=8)  # fmt: skip
configs = st.dictionaries(st.sampled_from(["model", "data", "train", "optim", "compare"]),
                          values, max_size=5)  # fmt: skip


@settings(max_examples=150, deadline=None, derandomize=True)
@given(configs, st.sampled_from([None, True, False]))
def test_any_mapping_in_any_style_agrees(tmp_path_factory, data, flow):
    text = yaml.safe_dump(data, default_flow_style=flow)
    assert outline_of(tmp_path_factory.mktemp("c"), text) == full_outline(yaml.safe_load(text))
