"""The layer-spec language: parsing, YAML forms, the MNIST config files, and shape errors."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.errors import CnnlabError, ModelError
from cnnlab.models import LayerCall, build_model, build_spec, load_spec, parse_spec

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "models"
EXAMPLE = (
    "conv(32,5,pad=2) relu pool(2) conv(64,5,pad=2) relu pool(2) flatten linear(1024) relu "
    "dropout(0.3) linear"
)


def _layout(model: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(key, tuple(value.shape)) for key, value in model.state_dict().items()]


def test_parse_the_issue_example():
    calls = parse_spec(EXAMPLE)
    assert [str(c) for c in calls] == [
        "conv(32, 5, pad=2)",
        "relu",
        "pool(2)",
        "conv(64, 5, pad=2)",
        "relu",
        "pool(2)",
        "flatten",
        "linear(1024)",
        "relu",
        "dropout(0.3)",
        "linear",
    ]
    assert calls[0] == LayerCall("conv", (32, 5), (("pad", 2),))
    assert calls[9].args == (0.3,)


def test_separators_and_value_words():
    written = (
        "conv(8, 3, pad=same, bias=false) – bn -> relu | pool(2)\n, leaky_relu(slope=-0.2); "
        "flatten - linear"
    )
    calls = parse_spec(written)
    assert [c.name for c in calls] == [
        "conv",
        "bn",
        "relu",
        "pool",
        "leaky_relu",
        "flatten",
        "linear",
    ]
    assert calls[0].kwargs == (("pad", "same"), ("bias", False))
    assert calls[4].kwargs == (("slope", -0.2),)


def test_yaml_forms_build_the_same_model():
    forms = [
        [{"conv": {"out": 8, "k": 3, "pad": 1}}, "relu", {"pool": 2}, "flatten", {"linear": None}],
        [{"conv": [8, 3, 1, 1]}, {"relu": None}, "pool(2)", "flatten", "linear"],
        ["conv(8, 3, pad=1) relu pool(2)", "flatten linear"],
    ]
    layouts = [_layout(build_model("spec", (1, 28, 28), 10, spec=form)) for form in forms]
    assert layouts[0] == layouts[1] == layouts[2]
    assert layouts[0][-2] == ("4.weight", (10, 8 * 14 * 14))


def test_spec_equals_the_hand_written_sequential():
    by_hand = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 14 * 14, 10)
    )
    built = build_model(str(CONFIGS / "mnist_v1_conv_pool_linear.yaml"), (1, 28, 28), 10)
    assert _layout(built) == _layout(by_hand)
    built.load_state_dict(by_hand.state_dict())
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(built(x).detach().numpy(), by_hand(x).detach().numpy())


# hand-computed: conv (C·k·k + 1)·F, linear (in + 1)·out
V1 = (1 * 25 + 1) * 32 + (32 * 14 * 14 + 1) * 10  # 832 + 62,730
V2 = 832 + (32 * 25 + 1) * 64 + (64 * 7 * 7 + 1) * 10  # + 51,264 + 31,370
V3 = 832 + 51_264 + (3136 + 1) * 1024 + (1024 + 1) * 10  # + 3,212,288 + 10,250


@pytest.mark.parametrize(
    ("stem", "params"),
    [
        ("mnist_v1_conv_pool_linear", 63_562),
        ("mnist_v2_two_conv", 83_466),
        ("mnist_v3_hidden1024", 3_274_634),
        ("mnist_v4_relu_dropout", 3_274_634),
    ],
)
def test_mnist_config_files_build_with_hand_counted_parameters(stem, params):
    assert (V1, V2, V3) == (63_562, 83_466, 3_274_634)
    model = build_model(str(CONFIGS / f"{stem}.yaml"), (1, 28, 28), 10)
    assert sum(p.numel() for p in model.parameters()) == params
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_v4_file_equals_the_compact_example():
    from_file = build_model(
        "spec", (1, 28, 28), 10, spec=str(CONFIGS / "mnist_v4_relu_dropout.yaml")
    )
    compact = build_model("spec", (1, 28, 28), 10, spec=EXAMPLE)
    assert [type(m) for m in from_file] == [type(m) for m in compact]
    assert _layout(from_file) == _layout(compact)
    assert from_file[9].p == 0.3


def test_shapes_are_inferred_through_every_layer_kind():
    spec = (
        "conv(4, 3, stride=2, pad=same) bn leaky_relu dropout2d(0.1) avgpool(3, stride=1, pad=1) "
        "gap flatten bn dropout linear(6) gelu linear"
    )
    model = build_model("spec", (3, 9, 9), 5, spec=spec)
    assert model[0].padding == (1, 1) and model[4].stride == 1
    assert isinstance(model[1], nn.BatchNorm2d) and isinstance(model[7], nn.BatchNorm1d)
    assert model.eval()(torch.zeros(1, 3, 9, 9)).shape == (1, 5)


# --- errors: each names the layer index, the layer, the input shape and what failed ---


def _error(spec: str, in_shape=(1, 28, 28), num_classes=10) -> str:
    with pytest.raises(ModelError) as info:
        build_model("spec", in_shape, num_classes, spec=spec)
    assert isinstance(info.value, CnnlabError)
    return str(info.value)


def test_bad_layer_name():
    message = _error("conv(8, 3) relu convv(16, 3) flatten linear")
    assert message.startswith(
        "spec layer 2 `convv(16, 3)` with input shape (8, 26, 26): unknown layer 'convv'"
    )
    assert "(did you mean 'conv'?)" in message and "known layers: avgpool, bn, conv" in message


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "conv(8, 3, padd=1) flatten linear",
            "spec layer 0 `conv(8, 3, padd=1)` with input shape (1, 28, 28): unknown argument "
            "'padd'; "
            "it is written conv(out, k=3, stride=1, pad=0, bias=true)",
        ),
        (
            "conv(8, 2.5) flatten linear",
            "spec layer 0 `conv(8, 2.5)` with input shape (1, 28, 28): argument k=2.5 must be an "
            "integer >= 1",
        ),
        (
            "conv flatten linear",
            "spec layer 0 `conv` with input shape (1, 28, 28): missing argument 'out'",
        ),
        (
            "flatten dropout(1.5) linear",
            "spec layer 1 `dropout(1.5)` with input shape (784,): argument p=1.5 must be a "
            "number in [0, 1)",
        ),
        (
            "pool(2, 2, 0, 1) flatten linear",
            "spec layer 0 `pool(2, 2, 0, 1)` with input shape (1, 28, 28): takes at most 3 "
            "positional arguments",
        ),
        ("conv(8, 3, k=5) flatten linear", "argument 'k' is given twice"),
        (
            "relu (8) flatten linear",
            "spec layer 0 `relu(8)` with input shape (1, 28, 28): `relu` takes no arguments",
        ),
        (
            "conv(8, 3, pad=wide) flatten linear",
            "argument pad='wide' must be an integer >= 0 or 'same'",
        ),
        ("pool(2, pad=2) flatten linear", "pad=2 must be at most half of k=2"),
    ],
)
def test_bad_arguments(spec, expected):
    assert expected in _error(spec)


def test_shape_collapsing_below_one_shows_the_arithmetic():
    message = _error("conv(8, 9) relu flatten linear", in_shape=(1, 7, 7))
    assert message == (
        "spec layer 0 `conv(8, 9)` with input shape (1, 7, 7): "
        "H' = 1 + (H + 2·pad − k)/stride = 1 + (7 + 0 − 9)/1 < 1: "
        "the H side of the input is too small for this layer"
    )


def test_collapse_deep_in_the_list_names_that_layer_and_its_input():
    message = _error(
        "conv(8, 3, pad=1) pool(2) pool(2) pool(2) pool(2) flatten linear", in_shape=(1, 20, 12)
    )
    assert message.startswith(
        "spec layer 4 `pool(2)` with input shape (8, 2, 1): W' = 1 + (W + 2·pad − k)/stride"
    )
    assert "= 1 + (1 + 0 − 2)/2 < 1" in message


def test_missing_flatten_before_linear():
    message = _error("conv(8, 3) relu linear(32) linear")
    assert message == (
        "spec layer 2 `linear(32)` with input shape (8, 26, 26): `linear` needs a flat input (F,) "
        "but gets the image shape (8, 26, 26); add `flatten` before it"
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "flatten linear(32) relu linear(20)",
            "ends with shape (20,) after layer 3 `linear(20)`, but the model must output (10,) "
            "for 10 classes",
        ),
        (
            "conv(8, 3) relu",
            "ends with shape (8, 26, 26) after layer 1 `relu`, but the model must output (10,)",
        ),
        (
            "flatten linear linear",
            "spec layer 1 `linear` with input shape (784,): give this linear a width",
        ),
        (
            "flatten conv(8, 3) linear",
            "spec layer 1 `conv(8, 3)` with input shape (784,): `conv` needs an image input (C, "
            "H, W)",
        ),
        ("", "the layer spec is empty"),
    ],
)
def test_structure_errors(spec, expected):
    assert expected in _error(spec)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "conv(8, 3 relu",
            "layer spec, layer 0: expected ',' or ')', got 'relu' at line 1, column 11",
        ),
        ("conv(8, 3", "layer spec, layer 0: missing ')'"),
        ("relu conv(k=3, 8)", "layer spec, layer 1: positional argument after a keyword argument"),
        (
            "relu\nconv(8) $ flatten",
            "unexpected character '$' at line 2, column 9:\n  conv(8) $ flatten\n          ^",
        ),
        ("relu ) pool", "layer spec, layer 1: expected a layer name, got ')'"),
        ("conv(8, 3=2)", "'3' cannot be an argument name"),
    ],
)
def test_syntax_errors_point_at_the_text(spec, expected):
    assert expected in _error(spec)


def test_spec_model_needs_a_spec():
    with pytest.raises(ModelError, match=r"model 'spec' needs the option spec=\.\.\."):
        build_model("spec", (1, 28, 28), 10)


def test_spec_file_errors_name_the_file(tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("layers: [conv: {out: 8\n")
    with pytest.raises(ModelError, match=r"bad\.yaml' is not valid YAML"):
        build_model(str(bad_yaml), (1, 28, 28), 10)
    with pytest.raises(ModelError, match=r"cannot read layer spec file '.*missing\.yaml'"):
        build_model(str(tmp_path / "missing.yaml"), (1, 28, 28), 10)
    wrong_key = tmp_path / "wrong.yml"
    wrong_key.write_text("layer: [flatten, linear]\n")
    with pytest.raises(
        ModelError, match=r"wrong\.yml: a spec mapping needs the key 'layers'.*unknown: layer"
    ):
        build_model(str(wrong_key), (1, 28, 28), 10)
    misfit = tmp_path / "misfit.yaml"
    misfit.write_text("- conv: {out: 8, k: 3}\n- linear\n")
    with pytest.raises(
        ModelError, match=r"misfit\.yaml: spec layer 1 `linear` with input shape \(8, 26, 26\)"
    ):
        build_model(str(misfit), (1, 28, 28), 10)
    nested = tmp_path / "nested.yaml"
    nested.write_text("- flatten\n- linear: {out: [1, 2]}\n")
    with pytest.raises(
        ModelError, match=r"nested\.yaml: layer 1 \(linear\): argument values must be"
    ):
        build_model(str(nested), (1, 28, 28), 10)
    with pytest.raises(ModelError, match=r"a layer spec file takes no options"):
        build_model(str(CONFIGS / "mnist_v1_conv_pool_linear.yaml"), (1, 28, 28), 10, dropout=0.1)


def test_a_spec_file_may_hold_a_compact_string(tmp_path):
    path = tmp_path / "compact.yaml"
    path.write_text("description: tiny\nlayers: conv(4, 3) relu flatten linear\n")
    assert [c.name for c in load_spec(str(path))] == ["conv", "relu", "flatten", "linear"]
    assert build_spec(load_spec(str(path)), (3, 5, 5), 2)(torch.zeros(1, 3, 5, 5)).shape == (1, 2)
