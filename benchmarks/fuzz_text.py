"""Fuzz inputs for text: config files with `--set` overrides, and layer specs.

YAML of random sections, random YAML-ish text, code-running tags, alias bombs and nesting
deeper than PyYAML can recurse; layer specs as token soup, damaged valid specs, YAML lists
and spec files. See `fuzz_formats`.
"""

from __future__ import annotations

import re

import torch
import yaml
from fuzz_harness import Box, scalars
from hypothesis import strategies as st

from cnnlab.config import load_experiments
from cnnlab.models.spec import build_spec
from cnnlab.models.spec_parse import load_spec

# ---------------------------------------------------------------- config files and overrides

SECTIONS = {
    "data": [
        "dataset",
        "classes",
        "per_class",
        "fraction",
        "val",
        "augment",
        "image_size",
        "channels",
        "skip_bad",
        "offline",
    ],
    "model": ["name", "options", "pretrained"],
    "train": [
        "epochs",
        "batch_size",
        "seed",
        "device",
        "patience",
        "monitor",
        "precision",
        "threads",
        "eval_every",
    ],
    "optim": [
        "optimizer",
        "lr",
        "schedule",
        "weight_decay",
        "momentum",
        "label_smoothing",
        "grad_clip",
    ],
}
yaml_values = st.recursive(
    scalars.filter(lambda v: not isinstance(v, bytes)),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
sections = st.dictionaries(
    st.sampled_from([*SECTIONS, "out", "name", "compare", "bogus"]),
    st.dictionaries(
        st.sampled_from([k for keys in SECTIONS.values() for k in keys] + ["nope"]),
        yaml_values,
        max_size=4,
    )
    | yaml_values,
    max_size=4,
)
HOSTILE_YAML = (
    "a: !!python/object/apply:os.system ['touch {outside}/pwned']",
    "data: !!python/object/apply:builtins.open ['{outside}/pwned', 'w']",
    "model: {name: !!python/name:os.system }",
    "train: !!python/object/new:pathlib.Path ['{outside}/pwned']",
    "a: &a [x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]\nmodel: {options: {d: [*c, *c, *c]}}",
    "model: {options: &o {self: *o}}",
    "data: " + "[" * 600 + "]" * 600,  # deeper than PyYAML can recurse
    "model: {options: " + "{a: " * 1500 + "1" + "}" * 1500 + "}",
    "compare:\n" + "  - {name: a}\n" * 3,
    "\t- bad indent",
    "{{{",
)
yaml_text = st.one_of(
    sections.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.sampled_from(HOSTILE_YAML),
    st.text(alphabet="{}[]:,-!&*#|>'\"\n\t a1.e=?%@`", max_size=40),
)
dotted = st.sampled_from(
    [f"{s}.{k}" for s, keys in SECTIONS.items() for k in keys]
    + ["out", "name", "data", "x.y.z", "", ".", "a..b"]
)
overrides = st.lists(
    st.builds(
        lambda k, v: f"{k}={v}",
        dotted,
        st.text(max_size=10)
        | st.sampled_from(
            ["1e-3", ".nan", "!!python/name:os.system", "[1, 2]", "{a: 1}", "&a [*a]", "[", "~"]
            + ["[" * 600]  # deeper than PyYAML can recurse
        ),
    )
    | st.text(max_size=10),
    max_size=3,
)
config_inputs = st.tuples(st.none() | yaml_text, overrides)


def build_config(example, box: Box):
    text, sets = example
    path = None
    if text is not None:
        path = box.input / "config.yaml"
        path.write_text(
            text.replace("{outside}", str(box.outside)), encoding="utf-8", errors="surrogatepass"
        )
    return path, sets


def read_config(source, box: Box) -> object:
    path, sets = source
    return load_experiments(path, sets)


# ---------------------------------------------------------------- layer specs

TOKENS = [
    "conv", "conv2d", "pool", "maxpool", "avgpool", "relu", "linear", "flatten", "dropout", "bn",
    "batchnorm", "gap", "tanh", "sigmoid", "(", ")", ",", "=", "->", "|", "-", "–", "→", ";", " ",
    "\n", "pad", "same", "k", "out", "stride", "true", "none", "0", "1", "3", "8", "-1", "1.5",
    "1e400", "nan", "x", "@", "ü", "\t", "99999999999999999999",
]  # fmt: skip
spec_text = st.lists(st.sampled_from(TOKENS), max_size=16).map("".join) | st.text(max_size=30)
spec_item = (
    spec_text
    | scalars
    | st.dictionaries(
        st.sampled_from(TOKENS[:14]) | st.integers(),
        st.none()
        | scalars
        | st.lists(scalars, max_size=3)
        | st.dictionaries(st.text(max_size=4), scalars, max_size=3),
        min_size=1,
        max_size=2,
    )
)
VALID_SPECS = (
    "conv(4, 3, pad=1) relu pool(2) flatten linear",
    "conv(4, k=3, pad=same) bn relu maxpool(2) dropout(0.25) flatten linear(16) relu linear",
    "flatten -> linear(32) -> tanh -> dropout(p=0.5) -> linear",
    "conv(2, 5, stride=2) | leaky_relu(0.1) | gap | linear",
)
SPEC_TOKEN = re.compile(r"\w+|\s+|->|[^\w\s]")


@st.composite
def near_spec(draw) -> str:
    """A valid spec with up to three tokens replaced, inserted or deleted."""
    tokens = SPEC_TOKEN.findall(draw(st.sampled_from(VALID_SPECS)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(tokens) - 1))
        edit = draw(st.sampled_from(["replace", "insert", "delete"]))
        if edit == "delete":
            del tokens[at]
        else:
            tokens[at : at + (edit == "replace")] = [draw(st.sampled_from(TOKENS))]
    return "".join(tokens)


spec_inputs = st.one_of(
    near_spec().map(lambda text: ("text", text)),
    near_spec().map(lambda text: ("file", yaml.safe_dump({"layers": text}))),
    spec_text.map(lambda text: ("text", text)),
    st.lists(spec_item, max_size=5).map(lambda items: ("list", items)),
    st.one_of(
        st.fixed_dictionaries(
            {"layers": st.lists(spec_item, max_size=4) | spec_text},
            optional={"description": scalars, "extra": scalars},
        ).map(yaml.safe_dump),
        st.text(alphabet="{}[]:,-!&*#|>'\"\n\t a1.e=()", max_size=40),
    ).map(lambda text: ("file", text)),
)


def build_spec_input(example, box: Box):
    form, value = example
    if form == "file":
        path = box.input / "net.yaml"
        path.write_text(value, encoding="utf-8", errors="surrogatepass")
        return str(path)
    return value


def read_spec(source, box: Box) -> object:
    """Parse, then build on the meta device: every shape is checked, no weight is allocated."""
    calls = load_spec(source)
    with torch.device("meta"):
        return build_spec(calls, (1, 8, 8), 3)
