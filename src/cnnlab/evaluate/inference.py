"""Batched inference: class probabilities of a trained classifier for an array of images.

No gradients (`torch.inference_mode`), the device's evaluation batch size, batches in the
model's memory layout (channels_last when its convolutions are), one host-to-device copy per
batch of uint8 pixels (4x less traffic than float), the forward pass in the run's precision
(the autocast it trained and validated with: bf16 on CPUs with bf16 units under `auto`,
1.5-2x faster than fp32 there), and the softmax in float64 so tiny probabilities survive for
the per-image losses. This is the one numeric path every test metric of a run takes, during
`cnnlab train` and in `cnnlab eval` alike, so both give the same numbers on one machine.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cnnlab.errors import DataFormatError
from cnnlab.models.classifier import predict_logits
from cnnlab.training.device import autocast, autocast_dtype, default_eval_batch_size


def wants_channels_last(model: nn.Module) -> bool:
    """True when the model's conv kernels are stored channels_last (as training leaves them).

    A kernel with one input channel is both layouts at once, so any kernel that is channels_last
    and not plain contiguous decides.
    """
    return any(
        p.ndim == 4 and p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
        for p in model.parameters()
    )


def _as_float_batch(batch: np.ndarray, device: torch.device, channels_last: bool) -> torch.Tensor:
    """uint8 in 0..255 or float in [0, 1] -> float32 (B, C, H, W) in [0, 1] on `device`."""
    tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(device)
    if channels_last:
        tensor = tensor.contiguous(memory_format=torch.channels_last)
    if tensor.dtype == torch.uint8:
        return tensor.to(torch.float32).div_(255)
    return tensor.to(torch.float32)


def predict_probabilities(
    model: nn.Module,
    images: np.ndarray,
    *,
    tta_flip: bool = False,
    batch_size: int | None = None,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
) -> np.ndarray:
    """Softmax probabilities (N, K) float64 for images (N, C, H, W), uint8 or float in [0, 1].

    With `tta_flip`, each image's logits are the mean over it and its left-right mirror;
    `precision` is a `train.precision` value (a run is evaluated as it was trained).
    """
    if images.ndim != 4:
        raise DataFormatError(f"inference needs images of shape (N, C, H, W), got {images.shape}")
    if not (images.dtype == np.uint8 or np.issubdtype(images.dtype, np.floating)):
        raise DataFormatError(f"inference needs uint8 or float images, got dtype {images.dtype}")
    batch_size = batch_size or default_eval_batch_size(device)
    if batch_size < 1:
        raise DataFormatError(f"inference batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)
    amp_dtype = autocast_dtype(device, precision)
    channels_last = wants_channels_last(model)
    was_training = model.training
    model.eval()
    chunks = []
    try:
        with torch.inference_mode():
            for start in range(0, images.shape[0], batch_size):
                batch = _as_float_batch(
                    images[start : start + batch_size], device, channels_last
                )  # (B, C, H, W)
                with autocast(device, amp_dtype):
                    logits = predict_logits(model, batch, tta_flip)  # (B, K)
                chunks.append(torch.softmax(logits.double(), dim=1).cpu().numpy())
    finally:
        model.train(was_training)
    if not chunks:
        raise DataFormatError("inference needs at least one image, got an empty array")
    return np.concatenate(chunks)  # (N, K)
