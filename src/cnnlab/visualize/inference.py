"""Class probabilities of a split through a run's model, for figures made before `evaluate` ran.

(A stop-gap: `cnnlab.evaluate` owns inference on runs; merge this into it once it lands.)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cnnlab.data.arrays import Split
from cnnlab.data.loader import BatchLoader

BATCH_SIZE = 512  # no gradients are kept, so large batches fit


@torch.inference_mode()
def predict_probabilities(
    model: nn.Module,
    split: Split,
    *,
    batch_size: int = BATCH_SIZE,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Softmax probabilities (N, K) float64 of every image of `split`, in order (model in eval mode)."""
    model.eval()
    loader = BatchLoader(split, batch_size=batch_size, shuffle=False, device=device)
    parts = [torch.softmax(model(images).double(), dim=1).cpu() for images, _ in loader]
    return torch.cat(parts).numpy()
