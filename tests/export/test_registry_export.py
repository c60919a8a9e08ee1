"""Every registered model exports to ONNX and answers as torch does (random weights)."""

import numpy as np
import pytest
import torch

from cnnlab.export.onnx_format import onnx_file, onnx_logits
from cnnlab.models import MODELS, Classifier, Normalize, build_model, describe

pytest.importorskip("onnxruntime")
OPTIONS = {"spec": {"spec": "conv(4, 3, pad=1) relu pool(2) flatten linear"}}
SHAPES = {"resnet18": (3, 32, 32), "resnet34": (3, 32, 32)}  # the rest: gray 28x28


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_exports_and_agrees(name, tmp_path):
    import onnx

    shape = SHAPES.get(name, (1, 28, 28))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = build_model(name, shape, 5, **OPTIONS.get(name, {}))
    C = shape[0]
    model = Classifier(Normalize([0.4] * C, [0.2] * C), net, describe(name), shape).eval()
    path = onnx_file(model, shape, {"cnnlab.run": name}, tmp_path / "m.onnx", 18)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ["images"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a dynamic batch
    images = np.random.default_rng(1).integers(0, 256, (3, *shape), dtype=np.uint8)
    with torch.inference_mode():
        expected = model(torch.from_numpy(images).float() / 255).numpy()
    got = onnx_logits(path, images)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert onnx_logits(path, images[:1]).shape == (1, 5)  # batch 1 as well as 3
