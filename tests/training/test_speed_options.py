"""The speed levers' plumbing: test-time flip averaging, channels_last and compile defaults."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.config import build_config
from cnnlab.errors import ConfigError
from cnnlab.evaluate.inference import predict_probabilities, wants_channels_last
from cnnlab.models.classifier import Classifier, Normalize, predict_logits
from cnnlab.training.device import configure_cuda, default_eval_batch_size, use_channels_last
from cnnlab.training.distributed import SINGLE, training_module
from cnnlab.visualize.feature_maps import capture_activations
from cnnlab.visualize.gradcam import grad_cam


def _classifier() -> Classifier:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))
    return Classifier(Normalize([0.5], [0.25]), net, {"kind": "model", "name": "x"}, (1, 4, 4))


def test_flip_averaging_is_applied_by_evaluation_not_inside_forward():
    model = _classifier().eval()
    x = torch.rand(5, 1, 4, 4)
    expected = (model(x) + model(x.flip(-1))) / 2
    torch.testing.assert_close(predict_logits(model, x, tta_flip=True), expected)
    torch.testing.assert_close(predict_logits(model, x, tta_flip=False), model(x))
    mirrored = predict_logits(model, x.flip(-1), tta_flip=True)
    torch.testing.assert_close(mirrored, predict_logits(model, x, tta_flip=True))
    images = (x.numpy() * 255).round().astype(np.uint8)
    flip = predict_probabilities(model, images, tta_flip=True)
    plain = predict_probabilities(model, images)
    assert not np.allclose(flip, plain)  # the switch reaches inference


def test_figures_see_one_activation_per_image_whatever_the_run_evaluates_with():
    model = _classifier().eval()
    conv = model.net[0]
    x = torch.rand(3, 1, 4, 4)
    captured, logits = capture_activations(model, x, [("conv", conv)])
    assert captured["conv"].shape == (3, 4, 4, 4) and logits.shape == (3, 3)
    assert grad_cam(model, x, conv).shape == (3, 4, 4)


def test_channels_last_is_on_by_default_for_cpu_and_cuda_and_can_be_turned_off():
    assert use_channels_last(None, torch.device("cpu"))
    assert use_channels_last(None, torch.device("cuda"))
    assert not use_channels_last(None, torch.device("mps"))
    assert not use_channels_last(False, torch.device("cpu"))
    configure_cuda(torch.device("cpu"))  # a no-op off CUDA
    assert build_config({}).train.compile is False


def test_compile_wraps_the_training_module_and_keeps_the_bare_model_for_checkpoints():
    model = _classifier()
    assert training_module(model, torch.device("cpu"), SINGLE, compile_model=False) is None
    compiled = training_module(model, torch.device("cpu"), SINGLE, compile_model=True)
    assert compiled is not None and compiled is not model
    assert compiled._orig_mod is model  # same parameters: checkpoints save `model` itself


def test_evaluation_batches_default_by_device_and_an_explicit_size_is_validated():
    assert build_config({}).train.eval_batch_size is None
    assert default_eval_batch_size("cpu") == 128
    assert default_eval_batch_size(torch.device("cuda")) == 1024
    assert build_config({"train": {"eval_batch_size": 7}}).train.eval_batch_size == 7
    with pytest.raises(ConfigError, match=r"train.eval_batch_size: expected an integer >= 1"):
        build_config({"train": {"eval_batch_size": 0}})


def test_inference_feeds_batches_in_the_models_layout_with_the_same_probabilities():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1), nn.Flatten(), nn.Linear(64, 3)
    )
    model = Classifier(Normalize([0.5], [0.25]), net, {"kind": "model", "name": "x"}, (1, 4, 4))
    images = np.random.default_rng(0).integers(0, 256, size=(9, 1, 4, 4), dtype=np.uint8)
    assert not wants_channels_last(model)
    plain = predict_probabilities(model, images)
    model.to(memory_format=torch.channels_last)
    # the 1-channel first kernel is both layouts at once; the second kernel decides
    assert wants_channels_last(model)
    np.testing.assert_allclose(predict_probabilities(model, images), plain, rtol=1e-6, atol=1e-9)
