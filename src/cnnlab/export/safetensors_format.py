"""safetensors: the classifier's weights, and beside them a JSON with its properties and its
architecture record (`Classifier.record()`), from which `load_safetensors` rebuilds the model
through `models.architecture`, as `load_run` does from a checkpoint.

The weights are of the plain `Classifier`; flip averaging, when the run evaluates with it, is
the `cnnlab.tta_flip` property, applied by `safetensors_logits` (`models.predict_logits`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from cnnlab.atomic import write_bytes, write_text
from cnnlab.errors import CnnlabError, ExportError
from cnnlab.export.extra import require
from cnnlab.export.files import unit_batches
from cnnlab.export.metadata import ExportMetadata, read_metadata
from cnnlab.export.source import ExportSource
from cnnlab.models.architecture import classifier_from_record, seeded
from cnnlab.models.classifier import Classifier, predict_logits


def record_path(path: Path) -> Path:
    """The JSON beside a weights file: `model.safetensors` -> `model.json`."""
    return Path(path).with_suffix(".json")


def write_safetensors(source: ExportSource, path: Path, opset: int) -> Path:
    """The classifier's state dict at `path` and its record beside it (`opset` unused)."""
    del opset
    require("safetensors")
    from safetensors.torch import save

    props = source.metadata.props()
    state = {
        name: tensor.detach().cpu().contiguous().clone()  # safetensors refuses shared memory
        for name, tensor in source.classifier.state_dict().items()
    }
    write_bytes(path, save(state, metadata=props))
    record = {"properties": props, "record": source.classifier.record()}
    write_text(record_path(path), json.dumps(record, indent=2) + "\n")
    return Path(path)


def load_safetensors(path: Path) -> tuple[Classifier, ExportMetadata]:
    """The classifier rebuilt from `path` and the JSON beside it (CPU, eval mode)."""
    require("safetensors")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    beside = record_path(path)
    try:
        saved = json.loads(beside.read_text(encoding="utf-8"))
        props, record = saved["properties"], saved["record"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ExportError(
            f"{beside}: the record beside {Path(path).name} is missing or damaged; expected "
            f"a JSON object with 'properties' and 'record': {error}"
        ) from None
    metadata = read_metadata(props)
    try:
        with seeded(0):  # the initial weights are overwritten; the global RNG is kept
            model = classifier_from_record(record, len(metadata.class_names))
        model.load_state_dict(load_file(str(path)))
    except (CnnlabError, KeyError, RuntimeError, SafetensorError) as error:
        raise ExportError(f"{path} does not rebuild from {beside.name}: {error}") from None
    return model.eval(), metadata


def safetensors_logits(path: Path, images: np.ndarray) -> np.ndarray:
    """Logits (N, K) float32 of the rebuilt classifier, flip-averaged when its run was."""
    model, metadata = load_safetensors(path)
    with torch.inference_mode():
        chunks = [
            predict_logits(model, torch.from_numpy(batch), metadata.tta_flip).numpy()
            for batch in unit_batches(images)
        ]
    return np.concatenate(chunks)
