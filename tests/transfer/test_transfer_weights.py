"""Torchvision-format ResNet weights: loaded into cnnlab's resnet18, mismatches named, the
official file fetched into the cache with its sha256 prefix checked (file:// and 127.0.0.1)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnlab.config import ModelConfig
from cnnlab.data.download import file_digest
from cnnlab.errors import ChecksumError, ConfigError, DataError, ModelError, TrainingError
from cnnlab.models import build_model
from cnnlab.transfer import TORCHVISION_RESNETS, WeightsFile, fetch_weights, load_backbone
from cnnlab.transfer.net import transfer_net

TORCHVISION_RESNET18_PARAMETERS = 11_689_512  # torchvision.models.resnet18().parameters()


def torchvision_state() -> dict[str, torch.Tensor]:
    """A state dict with torchvision resnet18's keys and shapes (and no num_batches_tracked,
    like the older official files), made from cnnlab's own resnet18 with the ImageNet stem."""
    torch.manual_seed(1)
    net = build_model("resnet18", (3, 224, 224), 1000, stem="imagenet")
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    for key, value in state.items():
        if "running" in key:  # not the fresh 0/1 statistics, so loading them is visible
            value.uniform_(0.5, 1.5)
    return state


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    path = tmp_path_factory.mktemp("weights") / "my-resnet18.pth"
    state = torchvision_state()
    torch.save(state, path)
    return path, state


def test_the_state_dict_has_torchvisions_keys_and_shapes(weights_file):
    _, state = weights_file
    assert sum(v.numel() for k, v in state.items() if "running" not in k) == (
        TORCHVISION_RESNET18_PARAMETERS
    )
    assert state["conv1.weight"].shape == (64, 3, 7, 7)
    assert state["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert state["layer4.1.bn2.running_var"].shape == (512,)
    assert state["fc.weight"].shape == (1000, 512)


def test_a_torchvision_format_file_loads_into_resnet18(weights_file):
    path, state = weights_file
    backbone = load_backbone(ModelConfig(name="resnet18", pretrained=str(path)))
    loaded = backbone.net.state_dict()
    for key, value in state.items():
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy(), err_msg=key)
    assert backbone.in_shape == (3, 224, 224) and backbone.num_classes == 1000
    assert backbone.mean == (0.485, 0.456, 0.406) and backbone.std == (0.229, 0.224, 0.225)
    net = transfer_net(backbone, (3, 32, 32), 5)
    assert net.head.out_features == 5 and net.head.in_features == 512
    assert isinstance(net.backbone.fc, torch.nn.Identity)
    np.testing.assert_array_equal(
        net.backbone.layer3[1].conv2.weight.detach().numpy(),
        state["layer3.1.conv2.weight"].numpy(),
    )


def test_a_mismatched_state_dict_fails_naming_the_keys(tmp_path):
    state = torchvision_state()
    del state["layer4.1.bn2.running_var"]
    state["layer1.2.conv1.weight"] = torch.zeros(64, 64, 3, 3)  # a resnet34 key
    state["conv1.weight"] = torch.zeros(64, 1, 7, 7)
    path = tmp_path / "wrong.pth"
    torch.save(state, path)
    with pytest.raises(ModelError, match="wrong.pth does not fit cnnlab's resnet18") as caught:
        load_backbone(ModelConfig(name="resnet18", pretrained=str(path)))
    message = str(caught.value)
    assert "missing keys: layer4.1.bn2.running_var" in message
    assert "unexpected keys: layer1.2.conv1.weight" in message
    assert "mis-shaped keys: conv1.weight (64, 1, 7, 7) where (64, 3, 7, 7) is expected" in message


def test_weights_need_a_resnet_with_the_imagenet_stem(weights_file):
    path, _ = weights_file
    with pytest.raises(ConfigError, match="model.name resnet18 or resnet34, got 'conv1'"):
        load_backbone(ModelConfig(name="conv1", pretrained=str(path)))
    cifar_stem = ModelConfig(name="resnet18", options={"stem": "cifar"}, pretrained=str(path))
    with pytest.raises(ConfigError, match="model.options.stem: .* imagenet stem"):
        load_backbone(cifar_stem)


def test_a_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"conv1.weight": torch.zeros(1), "hook": print}, path)
    with pytest.raises(TrainingError, match="evil.pth was refused: it holds more than weights"):
        load_backbone(ModelConfig(name="resnet18", pretrained=str(path)))


PAYLOAD = b"not really weights " * 500
PREFIX = hashlib.sha256(PAYLOAD).hexdigest()[:8]


def _weights(url: str, prefix: str = PREFIX) -> WeightsFile:
    return WeightsFile(f"resnet18-{prefix}.pth", url, prefix)


def test_fetch_from_a_file_url_into_the_cache_once(tmp_path):
    source = tmp_path / "served.pth"
    source.write_bytes(PAYLOAD)
    environ = {"CNNLAB_CACHE": str(tmp_path / "cache")}
    path = fetch_weights(_weights(source.as_uri()), environ=environ)
    assert path == tmp_path / "cache" / "weights" / f"resnet18-{PREFIX}.pth"
    assert path.read_bytes() == PAYLOAD
    source.unlink()  # the second call is served from the cache, checked again
    assert fetch_weights(_weights(source.as_uri()), environ=environ) == path
    path.write_bytes(PAYLOAD + b"!")
    with pytest.raises(ChecksumError, match=f"expected {PREFIX}; delete it"):
        fetch_weights(_weights(source.as_uri()), environ=environ)


def test_a_download_with_the_wrong_hash_is_refused_and_deleted(tmp_path):
    source = tmp_path / "served.pth"
    source.write_bytes(PAYLOAD)
    environ = {"CNNLAB_CACHE": str(tmp_path / "cache")}
    with pytest.raises(ChecksumError, match="expected a sha256 starting 00000000"):
        fetch_weights(_weights(source.as_uri(), "00000000"), environ=environ)
    assert list((tmp_path / "cache" / "weights").iterdir()) == []  # no file, no temporary


@pytest.fixture
def served(serve_files):
    """PAYLOAD as /w.pth on a local HTTP server (127.0.0.1); yields its URL."""
    return serve_files({"w.pth": PAYLOAD}) + "w.pth"


def test_fetch_over_http_from_127_0_0_1(tmp_path, served):
    environ = {"CNNLAB_CACHE": str(tmp_path / "cache")}
    path = fetch_weights(_weights(served), environ=environ, timeout=5)
    assert path.read_bytes() == PAYLOAD
    with pytest.raises(
        DataError,
        match=r"(?s)could not download resnet18-1234abcd\.pth:.*w\.pth\.missing: File not found",
    ):
        fetch_weights(_weights(served + ".missing", "1234abcd"), environ=environ, timeout=5)


def test_offline_without_the_file_says_which_file_to_place_where(tmp_path):
    environ = {"CNNLAB_CACHE": str(tmp_path / "cache")}
    official = TORCHVISION_RESNETS["resnet34"]
    place = tmp_path / "cache" / "weights" / "resnet34-b627a593.pth"
    with pytest.raises(DataError, match="download https://download.pytorch.org/models/") as caught:
        fetch_weights(official, environ=environ, offline=True)
    assert f"place it at {place}" in str(caught.value)


def test_imagenet_fetches_the_official_file_and_loads_it(tmp_path, monkeypatch, weights_file):
    path, state = weights_file
    prefix = file_digest(path, "sha256")[:8]
    official = WeightsFile(f"resnet18-{prefix}.pth", path.as_uri(), prefix)
    monkeypatch.setitem(TORCHVISION_RESNETS, "resnet18", official)
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    model = ModelConfig(name="resnet18", pretrained="imagenet")
    with pytest.raises(DataError, match=f"place it at {tmp_path / 'cache' / 'weights'}"):
        load_backbone(model, offline=True)
    backbone = load_backbone(model)
    assert (tmp_path / "cache" / "weights" / official.filename).is_file()
    np.testing.assert_array_equal(
        backbone.net.state_dict()["bn1.running_mean"].numpy(), state["bn1.running_mean"].numpy()
    )
    renamed = tmp_path / official.filename  # a local copy by the official name: hash checked
    renamed.write_bytes(b"truncated")
    with pytest.raises(ChecksumError, match=f"is not the official {official.filename}"):
        load_backbone(ModelConfig(name="resnet18", pretrained=str(renamed)))
