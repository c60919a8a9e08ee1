"""A NumPy `cnnlab scratch` run as an ONNX graph built node by node from its `best.npz`, and
the NumPy forward pass it must agree with (`scratch_forward`), for the parity proof.

The graph takes `images` (N, C, H, W) float32 in [0, 1], applies the engine's per-channel
normalisation, then the model's layers in test mode (batch norm with its running statistics,
dropout the identity) and gives `logits` (N, K), as the export contract says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.atomic import atomic_write
from cnnlab.errors import ConfigError, ModelError
from cnnlab.experiment.scratch_run import Normalize, model_options
from cnnlab.export.metadata import read_metadata
from cnnlab.runs import RunDir
from cnnlab.scratch.models import FullyConnectedNet, ThreeLayerConvNet, build_model
from cnnlab.scratch.norm import EPS
from cnnlab.scratch.npz import load_arrays

MIN_OPSET = 9  # every operator used (Conv, MaxPool, Gemm, Flatten, Relu, Mul, Add) has it
EVAL_BATCH = 256  # images per NumPy forward call


@dataclass(frozen=True)
class ScratchModel:
    """A scratch run's best weights loaded into its NumPy model, with its input normalisation."""

    name: str  # the scratch model's name: three_layer_convnet, fc
    model: Any  # ThreeLayerConvNet | FullyConnectedNet, params and buffers from best.npz
    normalize: Normalize
    class_names: tuple[str, ...]


def load_scratch(run_dir: Path, in_shape: tuple[int, int, int]) -> ScratchModel:
    """The run's model for inputs (C, H, W), its params and buffers read from `best.npz`."""
    run = RunDir(Path(run_dir))
    name, options = model_options(run.read_config())
    weights = load_arrays(run.best_npz)
    missing = [key for key in ("input.mean", "input.std", "class_names") if key not in weights]
    if missing:
        raise ModelError(
            f"{run.best_npz}: no {', '.join(missing)}; expected the weights of `cnnlab scratch "
            f"train` (params, buffers, input.mean, input.std, class_names)"
        )
    class_names = tuple(str(n) for n in weights["class_names"])
    model = build_model(name, in_shape, len(class_names), **options)
    for group, arrays in (("params", model.params), ("buffers", model.buffers)):
        for key, initial in arrays.items():
            saved = weights.get(f"{group}.{key}")
            if saved is None or saved.shape != initial.shape:
                have = "missing" if saved is None else f"of shape {saved.shape}"
                raise ModelError(
                    f"{run.best_npz}: {group}.{key} is {have}; a {name} model for input "
                    f"{in_shape} (C, H, W) and {len(class_names)} classes needs {initial.shape}"
                )
            arrays[key] = saved.astype(model.dtype, copy=False)
    normalize = Normalize(weights["input.mean"], weights["input.std"], model.dtype)
    return ScratchModel(name, model, normalize, class_names)


def scratch_forward(run_dir: Path, images: np.ndarray) -> np.ndarray:
    """Logits (N, K) float64 of the run's best weights, as the engine scores (N, C, H, W) images:
    uint8 0..255 as it is fed them, or float in [0, 1] (scaled by 255 first)."""
    if images.ndim != 4:
        raise ModelError(f"scratch_forward needs images (N, C, H, W), got shape {images.shape}")
    loaded = load_scratch(run_dir, tuple(int(n) for n in images.shape[1:]))
    pixels = images if images.dtype == np.uint8 else images.astype(np.float64) * 255
    parts = [
        loaded.model.loss(loaded.normalize(pixels[i : i + EVAL_BATCH]))  # test mode: (B, K)
        for i in range(0, len(pixels), EVAL_BATCH)
    ]
    return np.concatenate(parts).astype(np.float64)


@dataclass
class Graph:
    """Nodes and float32 initializers, added in order; each `add` names its output."""

    nodes: list = field(default_factory=list)
    weights: list = field(default_factory=list)

    def constant(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.weights.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def add(self, op: str, inputs: list[str], output: str, **attributes) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output


def _normalize(graph: Graph, x: str, normalize: Normalize) -> str:
    """images in [0, 1] -> (images - mean) / std per channel, as the engine's uint8 path."""
    std = np.asarray(normalize.std, np.float64).reshape(1, -1, 1, 1)  # (1, C, 1, 1)
    mean = np.asarray(normalize.mean, np.float64).reshape(1, -1, 1, 1)
    x = graph.add("Mul", [x, graph.constant("input.scale", 1 / std)], "input.scaled")
    return graph.add("Sub", [x, graph.constant("input.shift", mean / std)], "input.normalized")


def _convnet(graph: Graph, x: str, model: ThreeLayerConvNet) -> str:
    """conv - relu - 2x2 max pool - affine - relu - affine."""
    p, pad = model.params, model.pad
    x = graph.add(
        "Conv", [x, graph.constant("W1", p["W1"]), graph.constant("b1", p["b1"])], "conv",
        pads=[pad] * 4, strides=[1, 1],
    )  # (N, F, H, W)  # fmt: skip
    x = graph.add("Relu", [x], "conv.relu")
    x = graph.add("MaxPool", [x], "pool", kernel_shape=[2, 2], strides=[2, 2])  # (N, F, H/2, W/2)
    x = graph.add("Flatten", [x], "flat", axis=1)  # (N, F * H/2 * W/2)
    x = graph.add("Gemm", [x, graph.constant("W2", p["W2"]), graph.constant("b2", p["b2"])], "fc2")
    x = graph.add("Relu", [x], "fc2.relu")  # (N, hidden)
    return graph.add(
        "Gemm", [x, graph.constant("W3", p["W3"]), graph.constant("b3", p["b3"])], "logits"
    )  # (N, K)


def _fc(graph: Graph, x: str, model: FullyConnectedNet) -> str:
    """{affine - [batch norm] - relu - [dropout: identity]} x L-1 - affine."""
    p, b = model.params, model.buffers
    x = graph.add("Flatten", [x], "flat", axis=1)  # (N, D)
    L = model.num_layers
    for i in range(1, L):
        bias = p.get(f"b{i}", np.zeros(p[f"W{i}"].shape[1]))
        weight, bias = graph.constant(f"W{i}", p[f"W{i}"]), graph.constant(f"b{i}", bias)
        x = graph.add("Gemm", [x, weight, bias], f"fc{i}")  # (N, hidden_i)
        if model.normalization:  # test mode: gamma * (x - running mean) / sqrt(var + eps) + beta
            var = b[f"running_var{i}"].astype(np.float64)
            scale = p[f"gamma{i}"] / np.sqrt(var + EPS)
            shift = p[f"beta{i}"] - b[f"running_mean{i}"] * scale
            x = graph.add("Mul", [x, graph.constant(f"bn{i}.scale", scale)], f"bn{i}.scaled")
            x = graph.add("Add", [x, graph.constant(f"bn{i}.shift", shift)], f"bn{i}")
        x = graph.add("Relu", [x], f"fc{i}.relu")
    weight, bias = graph.constant(f"W{L}", p[f"W{L}"]), graph.constant(f"b{L}", p[f"b{L}"])
    return graph.add("Gemm", [x, weight, bias], "logits")  # (N, K)


# scratch model name -> the function adding its layers to a graph (input -> logits)
GRAPHS: dict[str, Callable[[Graph, str, Any], str]] = {
    "three_layer_convnet": _convnet,
    "fc": _fc,
}


def export_scratch_onnx(run_dir: Path, path: Path, metadata: dict[str, str], opset: int) -> Path:
    """Write the scratch run's best weights to `path` as an ONNX graph (opset `opset`) with
    `metadata` (the `cnnlab.*` props, its input shape the graph's); checked before it is saved."""
    import onnx
    from onnx import helper

    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ConfigError(f"opset {opset}: expected {MIN_OPSET}..{newest} for a scratch run")
    meta = read_metadata(metadata)
    if meta.engine != "numpy":
        raise ModelError(f"metadata cnnlab.engine is {meta.engine!r}; a scratch run is 'numpy'")
    loaded = load_scratch(run_dir, meta.input_shape)
    if loaded.class_names != meta.class_names:
        raise ModelError(
            f"metadata cnnlab.class_names {list(meta.class_names)} differ from the run's "
            f"best.npz {list(loaded.class_names)}"
        )
    graph = Graph()
    x = _normalize(graph, "images", loaded.normalize)
    GRAPHS[loaded.name](graph, x, loaded.model)
    K = len(loaded.class_names)
    proto = helper.make_model_gen_version(
        helper.make_graph(
            graph.nodes,
            f"cnnlab-{loaded.name}",
            [
                helper.make_tensor_value_info(
                    "images", onnx.TensorProto.FLOAT, ["N", *meta.input_shape]
                )
            ],
            [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["N", K])],
            initializer=graph.weights,
        ),
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="cnnlab",
        producer_version=meta.version,
    )
    helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    with atomic_write(Path(path), "wb") as stream:
        stream.write(proto.SerializeToString())
    return Path(path)
