"""ResNet-18/34 by hand: torchvision's state_dict layout, parameter counts, MACs and stems."""

import pytest
import torch

from cnnlab.errors import ModelError
from cnnlab.models import build_model, summarize, totals
from cnnlab.models.resnet import BasicBlock

# torchvision.models.resnet18().state_dict(): every key with its shape, in order (122 entries).
TORCHVISION_RESNET18 = [
    ("conv1.weight", (64, 3, 7, 7)),
    ("bn1.weight", (64,)),
    ("bn1.bias", (64,)),
    ("bn1.running_mean", (64,)),
    ("bn1.running_var", (64,)),
    ("bn1.num_batches_tracked", ()),
    ("layer1.0.conv1.weight", (64, 64, 3, 3)),
    ("layer1.0.bn1.weight", (64,)),
    ("layer1.0.bn1.bias", (64,)),
    ("layer1.0.bn1.running_mean", (64,)),
    ("layer1.0.bn1.running_var", (64,)),
    ("layer1.0.bn1.num_batches_tracked", ()),
    ("layer1.0.conv2.weight", (64, 64, 3, 3)),
    ("layer1.0.bn2.weight", (64,)),
    ("layer1.0.bn2.bias", (64,)),
    ("layer1.0.bn2.running_mean", (64,)),
    ("layer1.0.bn2.running_var", (64,)),
    ("layer1.0.bn2.num_batches_tracked", ()),
    ("layer1.1.conv1.weight", (64, 64, 3, 3)),
    ("layer1.1.bn1.weight", (64,)),
    ("layer1.1.bn1.bias", (64,)),
    ("layer1.1.bn1.running_mean", (64,)),
    ("layer1.1.bn1.running_var", (64,)),
    ("layer1.1.bn1.num_batches_tracked", ()),
    ("layer1.1.conv2.weight", (64, 64, 3, 3)),
    ("layer1.1.bn2.weight", (64,)),
    ("layer1.1.bn2.bias", (64,)),
    ("layer1.1.bn2.running_mean", (64,)),
    ("layer1.1.bn2.running_var", (64,)),
    ("layer1.1.bn2.num_batches_tracked", ()),
    ("layer2.0.conv1.weight", (128, 64, 3, 3)),
    ("layer2.0.bn1.weight", (128,)),
    ("layer2.0.bn1.bias", (128,)),
    ("layer2.0.bn1.running_mean", (128,)),
    ("layer2.0.bn1.running_var", (128,)),
    ("layer2.0.bn1.num_batches_tracked", ()),
    ("layer2.0.conv2.weight", (128, 128, 3, 3)),
    ("layer2.0.bn2.weight", (128,)),
    ("layer2.0.bn2.bias", (128,)),
    ("layer2.0.bn2.running_mean", (128,)),
    ("layer2.0.bn2.running_var", (128,)),
    ("layer2.0.bn2.num_batches_tracked", ()),
    ("layer2.0.downsample.0.weight", (128, 64, 1, 1)),
    ("layer2.0.downsample.1.weight", (128,)),
    ("layer2.0.downsample.1.bias", (128,)),
    ("layer2.0.downsample.1.running_mean", (128,)),
    ("layer2.0.downsample.1.running_var", (128,)),
    ("layer2.0.downsample.1.num_batches_tracked", ()),
    ("layer2.1.conv1.weight", (128, 128, 3, 3)),
    ("layer2.1.bn1.weight", (128,)),
    ("layer2.1.bn1.bias", (128,)),
    ("layer2.1.bn1.running_mean", (128,)),
    ("layer2.1.bn1.running_var", (128,)),
    ("layer2.1.bn1.num_batches_tracked", ()),
    ("layer2.1.conv2.weight", (128, 128, 3, 3)),
    ("layer2.1.bn2.weight", (128,)),
    ("layer2.1.bn2.bias", (128,)),
    ("layer2.1.bn2.running_mean", (128,)),
    ("layer2.1.bn2.running_var", (128,)),
    ("layer2.1.bn2.num_batches_tracked", ()),
    ("layer3.0.conv1.weight", (256, 128, 3, 3)),
    ("layer3.0.bn1.weight", (256,)),
    ("layer3.0.bn1.bias", (256,)),
    ("layer3.0.bn1.running_mean", (256,)),
    ("layer3.0.bn1.running_var", (256,)),
    ("layer3.0.bn1.num_batches_tracked", ()),
    ("layer3.0.conv2.weight", (256, 256, 3, 3)),
    ("layer3.0.bn2.weight", (256,)),
    ("layer3.0.bn2.bias", (256,)),
    ("layer3.0.bn2.running_mean", (256,)),
    ("layer3.0.bn2.running_var", (256,)),
    ("layer3.0.bn2.num_batches_tracked", ()),
    ("layer3.0.downsample.0.weight", (256, 128, 1, 1)),
    ("layer3.0.downsample.1.weight", (256,)),
    ("layer3.0.downsample.1.bias", (256,)),
    ("layer3.0.downsample.1.running_mean", (256,)),
    ("layer3.0.downsample.1.running_var", (256,)),
    ("layer3.0.downsample.1.num_batches_tracked", ()),
    ("layer3.1.conv1.weight", (256, 256, 3, 3)),
    ("layer3.1.bn1.weight", (256,)),
    ("layer3.1.bn1.bias", (256,)),
    ("layer3.1.bn1.running_mean", (256,)),
    ("layer3.1.bn1.running_var", (256,)),
    ("layer3.1.bn1.num_batches_tracked", ()),
    ("layer3.1.conv2.weight", (256, 256, 3, 3)),
    ("layer3.1.bn2.weight", (256,)),
    ("layer3.1.bn2.bias", (256,)),
    ("layer3.1.bn2.running_mean", (256,)),
    ("layer3.1.bn2.running_var", (256,)),
    ("layer3.1.bn2.num_batches_tracked", ()),
    ("layer4.0.conv1.weight", (512, 256, 3, 3)),
    ("layer4.0.bn1.weight", (512,)),
    ("layer4.0.bn1.bias", (512,)),
    ("layer4.0.bn1.running_mean", (512,)),
    ("layer4.0.bn1.running_var", (512,)),
    ("layer4.0.bn1.num_batches_tracked", ()),
    ("layer4.0.conv2.weight", (512, 512, 3, 3)),
    ("layer4.0.bn2.weight", (512,)),
    ("layer4.0.bn2.bias", (512,)),
    ("layer4.0.bn2.running_mean", (512,)),
    ("layer4.0.bn2.running_var", (512,)),
    ("layer4.0.bn2.num_batches_tracked", ()),
    ("layer4.0.downsample.0.weight", (512, 256, 1, 1)),
    ("layer4.0.downsample.1.weight", (512,)),
    ("layer4.0.downsample.1.bias", (512,)),
    ("layer4.0.downsample.1.running_mean", (512,)),
    ("layer4.0.downsample.1.running_var", (512,)),
    ("layer4.0.downsample.1.num_batches_tracked", ()),
    ("layer4.1.conv1.weight", (512, 512, 3, 3)),
    ("layer4.1.bn1.weight", (512,)),
    ("layer4.1.bn1.bias", (512,)),
    ("layer4.1.bn1.running_mean", (512,)),
    ("layer4.1.bn1.running_var", (512,)),
    ("layer4.1.bn1.num_batches_tracked", ()),
    ("layer4.1.conv2.weight", (512, 512, 3, 3)),
    ("layer4.1.bn2.weight", (512,)),
    ("layer4.1.bn2.bias", (512,)),
    ("layer4.1.bn2.running_mean", (512,)),
    ("layer4.1.bn2.running_var", (512,)),
    ("layer4.1.bn2.num_batches_tracked", ()),
    ("fc.weight", (1000, 512)),
    ("fc.bias", (1000,)),
]


def _param_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_imagenet_stem_state_dict_matches_torchvision_keys_and_shapes():
    model = build_model("resnet18", (3, 224, 224), 1000, stem="imagenet")
    layout = [(key, tuple(value.shape)) for key, value in model.state_dict().items()]
    assert len(TORCHVISION_RESNET18) == 122
    assert layout == TORCHVISION_RESNET18


def test_torchvision_format_weights_load_unchanged():
    # a distinct value per tensor, so a weight landing under the wrong key would show
    weights = {
        key: torch.full(shape, float(i)) if shape else torch.tensor(i)
        for i, (key, shape) in enumerate(TORCHVISION_RESNET18)
    }
    model = build_model("resnet18", (3, 224, 224), 1000)
    model.load_state_dict(weights, strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key]), key


def test_imagenet_resnet18_parameters_and_macs_at_224():
    model = build_model("resnet18", (3, 224, 224), 1000)
    assert _param_count(model) == 11_689_512
    rows = summarize(model, (3, 224, 224))
    params, trainable, macs = totals(rows)
    assert params == trainable == 11_689_512
    assert macs == pytest.approx(1.82e9, rel=0.01)
    # conv + linear alone: the figure torchvision quotes as 1.81 GFLOPS
    assert sum(r.macs for r in rows if r.type in ("Conv2d", "Linear")) == 1_814_073_344


def test_cifar_stem_resnet18_parameters():
    model = build_model("resnet18", (3, 32, 32), 10, stem="cifar")
    assert _param_count(model) == 11_173_962
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, torch.nn.Identity)


def test_resnet34_has_torchvision_parameter_count():
    assert _param_count(build_model("resnet34", (3, 224, 224), 1000)) == 21_797_672


@pytest.mark.parametrize(("side", "stem_kernel"), [(32, (3, 3)), (127, (3, 3)), (128, (7, 7))])
def test_auto_stem_follows_input_size(side, stem_kernel):
    assert build_model("resnet18", (3, side, side), 10).conv1.kernel_size == stem_kernel


def test_cifar_stem_keeps_spatial_detail_to_layer4():
    rows = {
        r.name: r.output_shape
        for r in summarize(build_model("resnet18", (3, 32, 32), 10), (3, 32, 32))
    }
    assert rows["layer1.1.bn2"] == (64, 32, 32)
    assert rows["layer4.1.bn2"] == (512, 4, 4)
    assert rows["fc"] == (10,)


def test_grayscale_input_and_any_class_count():
    model = build_model("resnet18", (1, 12, 12), 7)
    assert model.conv1.weight.shape == (64, 1, 3, 3)
    assert model(torch.zeros(2, 1, 12, 12)).shape == (2, 7)


def test_basic_block_projects_shortcut_only_when_shape_changes():
    assert BasicBlock(64, 64).downsample is None
    block = BasicBlock(64, 128, stride=2)
    assert block(torch.zeros(1, 64, 8, 8)).shape == (1, 128, 4, 4)
    assert block.downsample[0].stride == (2, 2)


def test_zero_init_residual_zeroes_last_bn_of_each_block():
    model = build_model("resnet18", (3, 32, 32), 10, zero_init_residual=True)
    assert all(
        torch.count_nonzero(b.bn2.weight) == 0 for b in model.modules() if isinstance(b, BasicBlock)
    )


def test_bad_stem_names_the_choices():
    with pytest.raises(ModelError, match=r"option 'stem' must be one of auto, imagenet, cifar"):
        build_model("resnet18", (3, 32, 32), 10, stem="tiny")
