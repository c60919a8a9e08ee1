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
from cnnlab.runs.config_yaml import _outline_from_lines


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


# -- the line reading: cnnlab's own block style, read without the YAML parser ---------------

words = st.text(alphabet="ab-_./+ 0'1:#", max_size=5)
safe_scalars = st.one_of(st.integers(-5, 50), words, st.none(), st.booleans(), st.just(1.5))
block_values = st.recursive(safe_scalars, lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(st.sampled_from(["name", "dataset", "epochs", "on"]),
                                              inner, max_size=3), max_leaves=8)  # fmt: skip
block_configs = st.dictionaries(st.sampled_from(["model", "data", "train", "optim"]),
                                block_values, max_size=4)  # fmt: skip
# (line index, edit): the nesting broken or changed as a hand edit or a damaged file would
EDITS = ("indent", "dedent", "repeat", "drop", "swap", "item")
edits = st.lists(st.tuples(st.integers(0, 40), st.sampled_from(EDITS)), max_size=2)


def edited(text: str, changes: list[tuple[int, str]]) -> str:
    lines = text.splitlines()
    for index, edit in changes:
        if not lines:
            break
        at = index % len(lines)
        line = lines[at]
        if edit == "indent":
            lines[at] = "  " + line
        elif edit == "dedent":
            lines[at] = line[2:] if line.startswith("  ") else line
        elif edit == "repeat":
            lines.insert(at, line)
        elif edit == "drop":
            del lines[at]
        elif edit == "swap" and at + 1 < len(lines):
            lines[at], lines[at + 1] = lines[at + 1], line
        elif edit == "item":
            lines[at] = line.replace(line.lstrip(" "), "- " + line.lstrip(" "), 1)
    return "\n".join(lines) + "\n"


@settings(max_examples=400, deadline=None, derandomize=True)
@given(block_configs, edits)
def test_the_line_reading_agrees_with_the_full_load_or_steps_aside(data, changes):
    text = edited(yaml.safe_dump(data, default_flow_style=False, sort_keys=False), changes)
    outline = _outline_from_lines(text)
    if outline is not None:  # it answered: the text is a mapping, and the parser agrees
        assert outline == full_outline(yaml.safe_load(text))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("model:\n  name: a\n   dataset: b\n", "a key deeper than its mapping"),
        ("model:\n  name: a\nmodel:\n  pretrained: x\n", "a repeated section"),
        ("model: a\n  - b\n", "an item after a value (a continuation)"),
        ("model:\n  name: a # note\n", "a comment"),
        ("model:\n  name: |\n    a\n", "a block scalar"),
        ("model:\n\tname: a\n", "a tab"),
        ("  model:\n    name: a\n", "an indented root"),
        ("model:\n  name:\n  - a\n", "a sequence where a name belongs"),
    ],
)
def test_the_line_reading_steps_aside_from_what_it_does_not_follow(tmp_path, text, why):
    assert _outline_from_lines(text) is None, why
    try:
        expected = full_outline(yaml.safe_load(text))
    except yaml.YAMLError:
        with pytest.raises(CnnlabError, match="not a readable YAML config"):
            outline_of(tmp_path, text)
    else:
        assert outline_of(tmp_path, text) == expected


def test_configs_cnnlab_writes_are_read_line_by_line():
    config = build_config({"model": {"name": "resnet18", "options": {"width": 2}},
                           "data": {"dataset": "imagefolder:my photos", "augment": "flip"},
                           "train": {"epochs": 12}, "out": "runs/a b"})  # fmt: skip
    assert _outline_from_lines(dump_config(config)) == {
        "model": "resnet18", "dataset": "imagefolder:my photos", "epochs": 12
    }  # fmt: skip
