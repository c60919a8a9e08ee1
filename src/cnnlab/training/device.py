"""Device, threads and precision: the hardware-facing choices of a run, made in one place."""

from __future__ import annotations

import contextlib
import os

import torch

from cnnlab.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA, then MPS, then CPU; an explicit device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device: {name!r} was asked for but CUDA is not available here")
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ConfigError(f"train.device: {name!r} was asked for but MPS is not available here")
    return device


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure_cpu(threads: int | None) -> int:
    """Use `threads` (default: every available core) for CPU math; flush denormals (faster)."""
    count = threads or available_cores()
    torch.set_num_threads(count)
    torch.set_flush_denormal(True)
    return count


def configure_cuda(device: torch.device) -> None:
    """On CUDA: let cuDNN pick the fastest kernels for the (fixed) shapes, TF32 for fp32 math."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def use_channels_last(setting: bool | None, device: torch.device) -> bool:
    """`train.channels_last`; None means on for CUDA and CPU, where NHWC convs measure faster."""
    return setting if setting is not None else device.type in ("cuda", "cpu")


# Images per evaluation forward pass. On a CPU small batches keep each layer's activations in
# the caches: 10,000 MNIST test images through v4 (bf16, 2 cores) took 1.25 s at 128, 1.44-1.76 s
# at 256 and 1.90 s at 512; the CIFAR fastnet and ResNet-18 were also fastest at 128. GPUs want
# more images per launch (not tuned: on an H100 10,000 MNIST images took 0.01-0.02 s at 512).
CPU_EVAL_BATCH_SIZE = 128
ACCELERATOR_EVAL_BATCH_SIZE = 1024


def default_eval_batch_size(device: torch.device | str) -> int:
    """Images per forward pass when evaluating or predicting on `device` (no gradients kept)."""
    cpu = torch.device(device).type == "cpu"
    return CPU_EVAL_BATCH_SIZE if cpu else ACCELERATOR_EVAL_BATCH_SIZE


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX-512-BF16 or AMX). There, bf16
    autocast trained every registry net 1.1-2.1x faster on 2 cores (benchmarks/README.md)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for this device and precision setting, or None for plain fp32."""
    if precision == "fp32":
        return None
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if device.type == "cpu" and cpu_has_bf16():
            return torch.bfloat16
        return None
    if precision == "fp16" and device.type == "cpu":
        raise ConfigError("train.precision: fp16 autocast needs a GPU; use bf16 or fp32 on the CPU")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def precision_used(device: torch.device, precision: str) -> str:
    """The arithmetic `precision` ("auto" included) gives on `device`: "bf16", "fp16" or "fp32"."""
    names = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}
    return names[autocast_dtype(device, precision)]


def autocast(device: torch.device, dtype: torch.dtype | None):
    """A context that runs the forward pass in `dtype`, or does nothing for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
