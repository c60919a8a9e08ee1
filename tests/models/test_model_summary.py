"""`summarize`: per-layer output shapes, parameters and MACs against hand-computed values."""

import pytest
import torch
from torch import nn

from cnnlab.errors import ModelError
from cnnlab.models import build_model, format_summary, summarize, summary_markdown, totals
from cnnlab.models.summary import OTHER_PARAMETERS, LayerRow


def _table(rows: list[LayerRow]) -> list[tuple]:
    return [(r.name, r.type, r.output_shape, r.params, r.macs) for r in rows]


def test_conv1_on_mnist_halves_the_image_at_the_pool():
    rows = summarize(build_model("conv1", (1, 28, 28), 10), (1, 28, 28))
    assert _table(rows) == [
        ("conv", "Conv2d", (32, 28, 28), 32 * (1 * 3 * 3) + 32, 32 * 28 * 28 * 9),  # 320, 225,792
        ("relu", "ReLU", (32, 28, 28), 0, 0),
        ("pool", "MaxPool2d", (32, 14, 14), 0, 0),
        ("flatten", "Flatten", (6272,), 0, 0),
        ("fc", "Linear", (10,), 6272 * 10 + 10, 6272 * 10),  # 62,730, 62,720
    ]
    assert totals(rows) == (63_050, 63_050, 288_512)


def test_fc_only_on_cifar():
    rows = summarize(build_model("fc_only", (3, 32, 32), 10), (3, 32, 32))
    assert _table(rows) == [
        ("flatten", "Flatten", (3072,), 0, 0),
        ("fc", "Linear", (10,), 3072 * 10 + 10, 30_720),
    ]


def test_lenet5_on_mnist():
    rows = summarize(build_model("lenet5", (1, 28, 28), 10), (1, 28, 28))
    by_name = {r.name: (r.output_shape, r.params, r.macs) for r in rows}
    assert by_name["conv1"] == ((6, 28, 28), 6 * 25 + 6, 6 * 28 * 28 * 25)  # 156, 117,600
    assert by_name["pool1"] == ((6, 14, 14), 0, 6 * 28 * 28)  # average: one MAC per input
    assert by_name["conv2"] == (
        (16, 10, 10),
        16 * 6 * 25 + 16,
        16 * 10 * 10 * 150,
    )  # 2,416, 240,000
    assert by_name["pool2"] == ((16, 5, 5), 0, 16 * 10 * 10)
    assert by_name["fc1"] == ((120,), 400 * 120 + 120, 48_000)
    assert by_name["fc2"] == ((84,), 120 * 84 + 84, 10_080)
    assert by_name["fc"] == ((10,), 84 * 10 + 10, 840)
    assert totals(rows)[0] == 61_706  # LeNet-5's classic parameter count


def test_batch_norm_counts_one_mac_per_output_and_frozen_params_are_not_trainable():
    model = build_model("mlp", (1, 4, 4), 3, hidden=(5,), batch_norm=True)
    model[1].weight.requires_grad_(False)  # the hidden linear (16 x 5, no bias next to bn)
    rows = summarize(model, (1, 4, 4))
    assert _table(rows)[1:3] == [
        ("fc1", "Linear", (5,), 80, 80),
        ("bn1", "BatchNorm1d", (5,), 10, 5),
    ]
    assert totals(rows) == (80 + 10 + 18, 10 + 18, 80 + 5 + 15)


def test_summary_leaves_the_model_as_it_was():
    model = build_model("convnet_deep", (3, 16, 16), 10, widths=(4, 8))
    model.train()
    model.head.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    summarize(model, (3, 16, 16))
    assert model.training and model.stage1.training and not model.head.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert not model.stage1.conv1._forward_hooks


def test_a_layer_called_twice_counts_its_parameters_once():
    rows = summarize(build_model("resnet18", (3, 8, 8), 10), (3, 8, 8))
    assert [r.name for r in rows].count("layer1.0.relu") == 2
    assert totals(rows)[0] == 11_173_962


def test_parameters_outside_called_leaves_get_their_own_row():
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(3))
            self.fc = nn.Linear(4, 3)
            self.unused = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x.flatten(1)) * self.scale

    rows = summarize(Scaled(), (1, 2, 2))
    assert _table(rows) == [("fc", "Linear", (3,), 15, 12), (OTHER_PARAMETERS, "", None, 3 + 6, 0)]
    assert "(other parameters)" in format_summary(rows)


def test_a_model_that_does_not_fit_the_input_raises_model_error():
    model = nn.Sequential(nn.Flatten(), nn.Linear(10, 2))
    with pytest.raises(
        ModelError, match=r"Sequential does not run on input shape \(1, 4, 4\): RuntimeError"
    ):
        summarize(model, (1, 4, 4))


def test_text_and_markdown_tables():
    rows = summarize(build_model("conv1", (1, 28, 28), 10), (1, 28, 28))
    text = format_summary(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "type", "output", "shape", "params", "MACs"]
    assert lines[4].split() == ["pool", "MaxPool2d", "32x14x14", "0", "0"]
    assert lines[8].split() == ["total", "63,050", "288,512"]
    assert "parameters: 63,050 (63.05 k), trainable: 63,050" in text
    assert "multiply-accumulates per image: 288,512 (288.51 k)" in text
    markdown = summary_markdown(rows)
    assert "| conv | Conv2d | 32x28x28 | 320 | 225,792 |" in markdown
    assert "| total |  |  | 63,050 | 288,512 |" in markdown
