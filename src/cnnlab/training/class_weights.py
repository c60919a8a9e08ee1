"""Per-class loss weights (`data.class_weights`): none, inverse frequency, or given ones.

They weight the training loss only; validation and test losses stay unweighted so runs with
and without weights compare on the same scale.
"""

from __future__ import annotations

import numpy as np
import torch

from cnnlab.errors import ConfigError

KEY = "data.class_weights"


def resolve_class_weights(
    spec: str | tuple[float, ...], labels: np.ndarray, num_classes: int
) -> np.ndarray | None:
    """The weights `spec` asks for, one per class (None for "none").

    "auto" is scikit-learn's "balanced" weighting, n / (k * count), of the training
    `labels`; a class with no training images gets weight 0 (it cannot be learned anyway).
    """
    if spec == "none":
        return None
    if spec == "auto":
        present = np.unique(labels)
        weights = np.zeros(num_classes, dtype=np.float64)
        # imported here: scikit-learn takes about 1 s to import, and only `auto` needs it
        from sklearn.utils.class_weight import compute_class_weight

        weights[present] = compute_class_weight("balanced", classes=present, y=labels)
        return weights
    if isinstance(spec, str):
        raise ConfigError(f"{KEY}: expected none, auto or a list of weights, got {spec!r}")
    if len(spec) != num_classes:
        raise ConfigError(
            f"{KEY}: expected one weight per class ({num_classes} classes), "
            f"got {len(spec)}: {list(spec)}"
        )
    return np.asarray(spec, dtype=np.float64)


def weight_tensor(weights: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    """The weights as the float32 tensor `nn.CrossEntropyLoss(weight=...)` takes."""
    if weights is None:
        return None
    return torch.as_tensor(weights, dtype=torch.float32, device=device)


def describe_weights(weights: np.ndarray | None, class_names) -> str:
    """One log line: the weight of each class by name."""
    if weights is None:
        return "class weights: none"
    pairs = ", ".join(f"{name}={w:.4g}" for name, w in zip(class_names, weights, strict=True))
    return f"class weights: {pairs}"
