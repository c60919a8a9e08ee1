"""Where `model.pretrained` points, and the pretrained network it gives.

Three kinds of reference:

- a cnnlab run directory (or its `best.pt` / `last.pt`): the model is rebuilt from the run's
  config and checkpoint by the run loader; its normalisation is the run's;
- a torchvision-format ResNet weights file (`.pth`), loaded into cnnlab's own `resnet18` or
  `resnet34` (`model.name`) with the ImageNet stem; ImageNet normalisation;
- `imagenet`: the official torchvision ImageNet weights of `model.name`, from the cache or
  downloaded into it once.

A relative path is looked up from the working directory, then from the run's `out`
directory (so a sweep can name a run of a neighbouring sweep, e.g. `../../pretrain/runs/x`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cnnlab.config import ExperimentConfig, ModelConfig
from cnnlab.errors import ConfigError
from cnnlab.models import build_model
from cnnlab.models.architecture import describe
from cnnlab.runs import RunDir, load_run
from cnnlab.runs.rundir import CHECKPOINTS
from cnnlab.transfer.weights import (
    IMAGENET_CLASSES,
    IMAGENET_MEAN,
    IMAGENET_SHAPE,
    IMAGENET_STD,
    TORCHVISION_RESNETS,
    WeightsFile,
    check_hash,
    fetch_weights,
    load_checked,
    read_state_dict,
)

IMAGENET = "imagenet"  # model.pretrained: the official torchvision weights of model.name


@dataclass(frozen=True)
class Source:
    """What `model.pretrained` names: `kind` is imagenet, file or run."""

    kind: str
    path: Path | None = None  # the weights file or run directory, absolute
    checkpoint: str = "best"  # for a run: which checkpoint


@dataclass(frozen=True)
class Backbone:
    """A pretrained network (its old head still on) and the inputs it was trained on."""

    net: nn.Module
    in_shape: tuple[int, int, int]  # (C, H, W)
    mean: tuple[float, ...]  # per channel, of inputs scaled to [0, 1]
    std: tuple[float, ...]
    num_classes: int  # outputs of its old head
    description: str  # where it came from, for logs and errors
    architecture: dict  # its architecture record (models.architecture), for checkpoints


def find_source(reference: str, out: Path | str = ".") -> Source:
    """The run, weights file or official weights that `reference` names; errors say what was tried."""
    if reference == IMAGENET:
        return Source(IMAGENET)
    given = Path(reference).expanduser()
    candidates = [given] if given.is_absolute() else [given, Path(out) / given]
    for path in candidates:
        if path.is_dir():
            if not RunDir(path).exists():
                raise ConfigError(
                    f"model.pretrained: {path} is a directory but not a cnnlab run "
                    f"(it has no config.yaml)"
                )
            return Source("run", path.resolve())
        if path.is_file():
            if path.stem in CHECKPOINTS and RunDir(path.parent).exists():
                return Source("run", path.parent.resolve(), path.stem)
            return Source("file", path.resolve())
    looked = " and ".join(str(p) for p in candidates)
    raise ConfigError(
        f"model.pretrained: {reference!r} was not found (looked at {looked}); expected a cnnlab "
        f"run directory, a torchvision-format .pth weights file, or {IMAGENET!r} for the "
        f"official ImageNet weights of {' or '.join(TORCHVISION_RESNETS)}"
    )


def torchvision_weights(model: ModelConfig) -> WeightsFile:
    """The official weights file for `model`, which must be a ResNet with the ImageNet stem."""
    if model.name not in TORCHVISION_RESNETS:
        raise ConfigError(
            f"model.pretrained {model.pretrained!r}: torchvision-format ImageNet weights load into "
            f"model.name {' or '.join(TORCHVISION_RESNETS)}, got {model.name!r}"
        )
    stem = model.options.get("stem", "auto")
    if stem not in ("auto", "imagenet"):
        raise ConfigError(
            f"model.options.stem: torchvision ImageNet weights need the imagenet stem "
            f"(7x7 conv + max-pool), got {stem!r}"
        )
    return TORCHVISION_RESNETS[model.name]


def _is_default_model(model: ModelConfig) -> bool:
    default = ModelConfig()
    return model.name == default.name and not model.options


def resolve_config(config: ExperimentConfig) -> ExperimentConfig:
    """`config` with `model.pretrained` made absolute and, for a run, the run's model filled in.

    Called before a transfer run starts, so its config.yaml names the real architecture and
    works from any directory. A model.name other than the run's raises.
    """
    model = config.model
    source = find_source(model.pretrained or "", config.out)
    if source.kind != "run":
        torchvision_weights(model)
        reference = IMAGENET if source.kind == IMAGENET else str(source.path)
        return dataclasses.replace(config, model=dataclasses.replace(model, pretrained=reference))
    run_model = RunDir(source.path).read_config().model
    same = model.name == run_model.name and (
        not model.options or model.options == run_model.options
    )
    if not same and not _is_default_model(model):
        raise ConfigError(
            f"model.name {model.name!r} with model.options {model.options} does not match the "
            f"pretrained run {source.path}: its model is {run_model.name!r} with options "
            f"{run_model.options}; leave model.name and model.options out, or set them to the run's"
        )
    reference = (
        source.path if source.checkpoint == "best" else source.path / f"{source.checkpoint}.pt"
    )
    model = dataclasses.replace(
        model, name=run_model.name, options=dict(run_model.options), pretrained=str(reference)
    )
    return dataclasses.replace(config, model=model)


def load_backbone(model: ModelConfig, *, out: Path | str = ".", offline: bool = False) -> Backbone:
    """The pretrained network `model.pretrained` names, with its weights, on the CPU."""
    source = find_source(model.pretrained or "", out)
    if source.kind == "run":
        loaded = load_run(source.path, source.checkpoint)
        normalize = loaded.model.normalize
        return Backbone(
            net=loaded.model.net,
            in_shape=loaded.in_shape,
            mean=tuple(normalize.mean.flatten().tolist()),
            std=tuple(normalize.std.flatten().tolist()),
            num_classes=len(loaded.class_names),
            description=f"run {source.path} ({source.checkpoint}.pt)",
            architecture=loaded.model.architecture,
        )
    official = torchvision_weights(model)
    path = source.path
    if source.kind == IMAGENET:
        path = fetch_weights(official, offline=offline)
    elif path.name == official.filename:  # an official file by name: hash checked
        check_hash(path, official)
    options = {**model.options, "stem": "imagenet"}
    net = build_model(model.name, IMAGENET_SHAPE, IMAGENET_CLASSES, **options)
    with torch.no_grad():
        load_checked(net, read_state_dict(path), f"weights file {path}", f"cnnlab's {model.name}")
    return Backbone(
        net=net,
        in_shape=IMAGENET_SHAPE,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        num_classes=IMAGENET_CLASSES,
        description=f"torchvision-format {model.name} weights {path}",
        architecture=describe(model.name, options),
    )
