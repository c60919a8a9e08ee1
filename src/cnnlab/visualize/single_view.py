"""Hook-based figures need one forward pass per image: switch test-time flip averaging off."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def single_view(model: nn.Module) -> Iterator[nn.Module]:
    """`model` with every `tta_flip` switched off inside the block, restored after it.

    With flip averaging a layer sees 2N images for N inputs, so its captured activations
    would no longer line up with the inputs (feature maps, Grad-CAM).
    """
    flagged = [module for module in model.modules() if getattr(module, "tta_flip", False)]
    for module in flagged:
        module.tta_flip = False
    try:
        yield model
    finally:
        for module in flagged:
            module.tta_flip = True
