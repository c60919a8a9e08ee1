"""Architecture records: the plain data a checkpoint keeps to build its network again.

A record is a dict of strings, numbers and lists (safe for `torch.load(weights_only=True)`),
with a `kind` that picks its builder in `BUILDERS`:

- `model`: a registered name, or a user class `PATH.py:CLASS`, with its options;
- `spec`: a layer list, kept whole, so the spec file may move or change after training;
- `transfer`: the backbone's own record, the input shape and class count it was built for,
  the name of its old head, the size the input adapter resizes to (if any) and whether the
  backbone is frozen.

Loading a run therefore needs `models` alone, never the run or file it was fine-tuned from.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.errors import ModelError
from cnnlab.models.classifier import Classifier, Normalize
from cnnlab.models.registry import build_model
from cnnlab.models.spec import build_spec
from cnnlab.models.spec_parse import LayerCall, is_spec_file, load_spec
from cnnlab.models.transfer_net import InputAdapter, TransferNet, replace_module
from cnnlab.models.user import is_user_model, split_reference

Record = dict[str, Any]
Shape = tuple[int, int, int]


def describe(name: str, options: Mapping[str, Any] | None = None) -> Record:
    """The record of `model.name` with `model.options`: spec layers are read now and kept."""
    options = dict(options or {})
    if is_spec_file(name) or (name == "spec" and "spec" in options):
        source = name if is_spec_file(name) else options.pop("spec")
        if options:
            raise ModelError(f"a layer spec takes no other options, got {', '.join(options)}")
        calls = load_spec(source)
        layers = [[call.name, list(call.args), dict(call.kwargs)] for call in calls]
        return {"kind": "spec", "layers": layers, "source": str(source)}
    if is_user_model(name):  # an absolute path, so the run loads from any directory
        path, class_name = split_reference(name)
        return {"kind": "model", "name": f"{Path(path).resolve()}:{class_name}", "options": options}
    return {"kind": "model", "name": name, "options": options}


def transfer_record(
    backbone: Record,
    backbone_in_shape: Shape,
    backbone_classes: int,
    head: str,
    size: tuple[int, int] | None,
    frozen: bool,
) -> Record:
    """The record of a backbone whose head `head` becomes a new one (see `TransferNet`)."""
    return {
        "kind": "transfer",
        "backbone": backbone,
        "backbone_in_shape": list(backbone_in_shape),
        "backbone_classes": int(backbone_classes),
        "head": head,
        "size": list(size) if size is not None else None,
        "frozen": bool(frozen),
    }


def _model(record: Record, in_shape: Shape, num_classes: int) -> nn.Module:
    return build_model(record["name"], in_shape, num_classes, **record.get("options", {}))


def _spec(record: Record, in_shape: Shape, num_classes: int) -> nn.Module:
    calls = [
        LayerCall(name, tuple(args), tuple(kwargs.items()))
        for name, args, kwargs in record["layers"]
    ]
    return build_spec(calls, in_shape, num_classes, where=f"{record.get('source', 'spec')}: ")


def _transfer(record: Record, in_shape: Shape, num_classes: int) -> nn.Module:
    body = build_net(
        record["backbone"], tuple(record["backbone_in_shape"]), record["backbone_classes"]
    )
    body.requires_grad_(True)
    for module in body.modules():  # a backbone that was itself a linear probe trains again
        if isinstance(module, TransferNet):
            module.frozen = False
    old_head = body.get_submodule(record["head"])
    if not isinstance(old_head, nn.Linear):
        raise ModelError(f"transfer record: the backbone's {record['head']!r} is not nn.Linear")
    replace_module(body, record["head"], nn.Identity())
    size = tuple(record["size"]) if record.get("size") is not None else None
    frozen = bool(record.get("frozen", False))
    net = TransferNet(
        InputAdapter(record["backbone_in_shape"][0], size),  # to the backbone's channels
        body,
        nn.Linear(old_head.in_features, num_classes),
        frozen=frozen,
    )
    if frozen:
        body.requires_grad_(False)
    return net.train()


BUILDERS: dict[str, Callable[[Record, Shape, int], nn.Module]] = {
    "model": _model,
    "spec": _spec,
    "transfer": _transfer,
}


def build_net(record: Record, in_shape: Shape, num_classes: int) -> nn.Module:
    """The network `record` describes, for (C, H, W) inputs and `num_classes` outputs (CPU)."""
    kind = record.get("kind") if isinstance(record, Mapping) else None
    if kind not in BUILDERS:
        raise ModelError(
            f"architecture record of kind {kind!r} is not one of {', '.join(BUILDERS)}; "
            f"the checkpoint was written by a newer or a damaged cnnlab"
        )
    try:
        return BUILDERS[kind](record, tuple(in_shape), int(num_classes))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(
            f"architecture record of kind {kind!r} is malformed: {type(error).__name__}: {error}"
        ) from None


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Inside the block torch's CPU generator starts from `seed`; outside it is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def classifier_from_record(record: Mapping[str, Any], num_classes: int) -> Classifier:
    """The `Classifier` a checkpoint's record describes (architecture, in_shape, mean, std)."""
    in_shape = tuple(int(d) for d in record["in_shape"])
    net = build_net(record["architecture"], in_shape, num_classes)
    normalize = Normalize(record["mean"], record["std"])
    return Classifier(normalize, net, dict(record["architecture"]), in_shape)
