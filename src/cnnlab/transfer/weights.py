"""Torchvision-format ImageNet ResNet weights: the official files, kept in the cnnlab cache.

A file is found in `<cache>/weights/`, or downloaded there once from its official URL with
the sha256 prefix torchvision writes into the file name checked (a mismatch is deleted, never
kept). Offline with no copy, the error names the file to fetch and where to put it. A state
dict is loaded only after every key and shape has been checked, so a wrong file fails naming
the missing, unexpected and mis-shaped keys instead of with a wall of torch text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cnnlab.data.download import download_verified, file_digest
from cnnlab.data.locate import cache_root
from cnnlab.errors import ChecksumError, DataError, DataFormatError, ModelError
from cnnlab.training.checkpoint import load_checkpoint

WEIGHTS_FOLDER = "weights"  # under the cache directory
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the statistics torchvision's ImageNet weights expect
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_SHAPE = (3, 224, 224)  # (C, H, W) the weights were trained at
IMAGENET_CLASSES = 1000
MAX_LISTED_KEYS = 8  # keys named per kind of mismatch before "and N more"


@dataclass(frozen=True)
class WeightsFile:
    """One official weights file: its name, URL and the sha256 prefix its name carries."""

    filename: str
    url: str
    sha256_prefix: str


TORCHVISION_RESNETS: dict[str, WeightsFile] = {
    name: WeightsFile(
        f"{name}-{prefix}.pth", f"https://download.pytorch.org/models/{name}-{prefix}.pth", prefix
    )
    for name, prefix in (("resnet18", "f37072fd"), ("resnet34", "b627a593"))
}


def check_hash(path: Path, weights: WeightsFile) -> Path:
    """`path` if its sha256 starts with the published prefix; else a `ChecksumError` naming it."""
    digest = file_digest(path, "sha256")
    if not digest.startswith(weights.sha256_prefix):
        raise ChecksumError(
            f"{path} is not the official {weights.filename}: its sha256 starts with "
            f"{digest[: len(weights.sha256_prefix)]}, expected {weights.sha256_prefix}; delete it "
            f"and fetch {weights.url} again"
        )
    return Path(path)


def fetch_weights(
    weights: WeightsFile,
    *,
    environ: Mapping[str, str] | None = None,
    offline: bool = False,
    urls: tuple[str, ...] | None = None,
    timeout: float = 60.0,
) -> Path:
    """The cached copy of `weights`, downloaded and hash-checked on first use unless offline.

    `urls` replaces the official URL (mirrors, tests). Nothing is ever left under the final
    name unless its hash matched.
    """
    target = cache_root(environ) / WEIGHTS_FOLDER / weights.filename
    if target.is_file():
        return check_hash(target, weights)
    if offline:
        raise DataError(
            f"the weights file {weights.filename} is not in the cache and downloads are off "
            f"(--offline): download {weights.url} and place it at {target}, or pass the "
            f"file's path as model.pretrained"
        )
    return download_verified(
        target,
        urls or (weights.url,),
        algorithm="sha256",
        expected=weights.sha256_prefix,
        expected_text=f"a sha256 starting {weights.sha256_prefix}",
        timeout=timeout,
        failure_hint=(
            f"\nDownload it yourself and place it at {target}, or pass its path as "
            "model.pretrained."
        ),
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict (name -> tensor) from a weights file, read with `weights_only=True`."""
    state = load_checkpoint(Path(path))  # refuses pickled code; errors name the file
    if isinstance(state.get("state_dict"), Mapping):  # the common {"state_dict": ...} wrapper
        state = state["state_dict"]
    bad = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if bad:
        raise DataFormatError(
            f"{path} is not a state dict of tensors: {', '.join(map(repr, bad[:MAX_LISTED_KEYS]))} "
            f"hold other values"
        )
    return dict(state)


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:MAX_LISTED_KEYS])
    more = len(keys) - MAX_LISTED_KEYS
    return shown + (f" and {more} more" if more > 0 else "")


def load_checked(
    module: nn.Module, state: Mapping[str, torch.Tensor], source: str, target: str
) -> None:
    """Load `state` into `module` after checking every key and shape; a mismatch names the keys.

    A missing `num_batches_tracked` (older torchvision files lack them) keeps the module's own.
    """
    expected = module.state_dict()
    state = dict(state)
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    misshaped = [
        f"{key} {tuple(state[key].shape)} where {tuple(value.shape)} is expected"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    problems = [
        f"{kind} keys: {_listed(keys)}"
        for kind, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("mis-shaped", misshaped),
        )
        if keys
    ]
    if problems:
        raise ModelError(f"{source} does not fit {target}: " + "; ".join(problems))
    module.load_state_dict(state)
