"""The registry: every model trains one step; names, options and input sizes are checked."""

import pytest
import torch
import torch.nn.functional as F

from cnnlab.errors import CnnlabError, ModelError
from cnnlab.models import ALIASES, MODELS, build_model, list_models, option_names

SHAPES = [((1, 28, 28), 10), ((3, 32, 32), 10)]
OPTIONS = {"spec": {"spec": "conv(8, 3, pad=1) relu pool(2) flatten linear"}}  # spec needs a list


@pytest.mark.parametrize(("in_shape", "num_classes"), SHAPES, ids=["1x28x28", "3x32x32"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_trains_one_step(name, in_shape, num_classes):
    with torch.random.fork_rng():
        torch.manual_seed(0)  # weight init and dropout draw from the (forked) global generator
        model = build_model(name, in_shape, num_classes, **OPTIONS.get(name, {}))
        generator = torch.Generator().manual_seed(1)
        x = torch.randn(2, *in_shape, generator=generator)  # (N, C, H, W)
        y = torch.tensor([0, num_classes - 1])
        logits = model.train()(x)
        assert logits.shape == (2, num_classes)
        F.cross_entropy(logits, y).backward()
    for pname, param in model.named_parameters():
        assert param.device.type == "cpu"
        assert param.grad is not None, f"{name}: no gradient for {pname}"
        assert torch.isfinite(param.grad).all(), f"{name}: non-finite gradient for {pname}"


@pytest.mark.parametrize("num_classes", [2, 100])
def test_any_class_count(num_classes):
    model = build_model("convnet", (3, 20, 24), num_classes)
    assert model(torch.zeros(1, 3, 20, 24)).shape == (1, num_classes)


def test_aliases_build_the_same_architecture():
    assert ALIASES == {"dnn": "mlp", "grayscale1conv": "conv1"}
    for alias, target in ALIASES.items():
        a, b = build_model(alias, (1, 28, 28), 10), build_model(target, (1, 28, 28), 10)
        shapes = lambda m: [(k, tuple(v.shape)) for k, v in m.state_dict().items()]  # noqa: E731
        assert shapes(a) == shapes(b)


def test_list_models_gives_every_name_with_a_description():
    listed = dict(list_models())
    assert list(listed) == list(MODELS)
    assert "alias: dnn" in listed["mlp"] and "alias: grayscale1conv" in listed["conv1"]
    assert all(description.strip() for description in listed.values())


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(
        ModelError, match=r"unknown model 'resnet19'; known models: fc_only, mlp, conv1"
    ) as info:
        build_model("resnet19", (3, 32, 32), 10)
    assert isinstance(info.value, CnnlabError)
    assert (
        "resnet18" in str(info.value)
        and "dnn" in str(info.value)
        and "PATH.py:CLASS" in str(info.value)
    )


def test_unknown_option_names_it_and_the_accepted_ones():
    with pytest.raises(
        ModelError,
        match=r"model 'convnet' has no option 'filter'; its options: filters, kernel, hidden",
    ):
        build_model("convnet", (1, 28, 28), 10, filter=8)
    with pytest.raises(
        ModelError, match=r"model 'fc_only' has no option 'hidden'; its options: none"
    ):
        build_model("fc_only", (1, 28, 28), 10, hidden=3)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        (
            "mlp",
            {"hidden": "64,x"},
            r"model 'mlp': option 'hidden' must be a list of positive integers",
        ),
        ("mlp", {"dropout": 1.0}, r"option 'dropout' must be a number in \[0, 1\), got 1.0"),
        ("mlp", {"activation": "swish"}, r"option 'activation' must be one of relu, leaky_relu"),
        (
            "convnet_deep",
            {"widths": []},
            r"option 'widths' must be a list of positive integers, got \[\]",
        ),
        (
            "convnet_deep",
            {"pool": "min"},
            r"option 'pool' must be one of max, avg, conv, got 'min'",
        ),
        ("convnet_deep", {"batch_norm": "maybe"}, r"option 'batch_norm' must be true or false"),
        (
            "conv1",
            {"filters": 0},
            r"model 'conv1': option 'filters' must be a positive integer, got 0",
        ),
    ],
)
def test_bad_option_values_name_the_option_and_expectation(name, options, message):
    with pytest.raises(ModelError, match=message):
        build_model(name, (1, 28, 28), 10, **options)


def test_options_accept_text_as_given_on_the_command_line():
    model = build_model(
        "convnet_deep", (1, 28, 28), 10, widths="8,16", hidden="", batch_norm="false", pool="avg"
    )
    assert [type(m).__name__ for m in model.stage1] == [
        "Conv2d",
        "ReLU",
        "Conv2d",
        "ReLU",
        "AvgPool2d",
    ]
    assert model.head.fc.in_features == 16 * 7 * 7
    assert option_names(MODELS["mlp"].builder) == ("hidden", "activation", "dropout", "batch_norm")


@pytest.mark.parametrize(
    ("name", "options", "in_shape", "minimum"),
    [
        ("conv1", {}, (1, 1, 1), 2),
        ("convnet", {}, (3, 28, 1), 2),
        ("convnet_deep", {"widths": (8, 8, 8, 8)}, (1, 15, 15), 16),
        ("lenet5", {}, (1, 11, 11), 12),
        ("lenet5", {"padding": 0}, (1, 15, 15), 16),
    ],
)
def test_too_small_input_says_the_minimum(name, options, in_shape, minimum):
    with pytest.raises(
        ModelError, match=rf"'{name}' needs inputs of at least {minimum}x{minimum} pixels"
    ):
        build_model(name, in_shape, 10, **options)
    side = (in_shape[0], minimum, minimum)
    assert build_model(name, side, 10, **options)(torch.zeros(2, *side)).shape == (2, 10)


def test_strided_conv_pooling_needs_no_minimum_beyond_one_pixel():
    model = build_model("convnet_deep", (1, 3, 3), 10, widths=(4, 4, 4), pool="conv")
    assert model(torch.zeros(2, 1, 3, 3)).shape == (2, 10)


@pytest.mark.parametrize(
    ("in_shape", "num_classes", "message"),
    [
        ((28, 28), 10, r"in_shape must be \(C, H, W\) with positive integers, got \(28, 28\)"),
        ((1, 0, 28), 10, r"in_shape must be \(C, H, W\)"),
        ((1, 28, 28), 0, r"num_classes must be a positive integer, got 0"),
    ],
)
def test_bad_shapes_and_class_counts(in_shape, num_classes, message):
    with pytest.raises(ModelError, match=message):
        build_model("fc_only", in_shape, num_classes)


def test_named_children_read_as_the_architecture():
    assert list(dict(build_model("convnet", (1, 28, 28), 10).named_children())) == [
        "conv",
        "relu1",
        "pool",
        "flatten",
        "fc1",
        "relu2",
        "fc",
    ]
    deep = build_model("convnet_deep", (3, 32, 32), 10, widths=(8, 16), dropout=0.2)
    assert list(dict(deep.named_children())) == ["stage1", "stage2", "head"]
    assert list(dict(deep.head.named_children())) == [
        "flatten",
        "fc1",
        "bn1",
        "act1",
        "drop1",
        "fc",
    ]
    mlp = build_model("mlp", (1, 28, 28), 10, hidden=(64,), batch_norm=True, dropout=0.1)
    assert [type(m).__name__ for m in mlp] == [
        "Flatten",
        "Linear",
        "BatchNorm1d",
        "ReLU",
        "Dropout",
        "Linear",
    ]
