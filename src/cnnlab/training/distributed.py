"""Data-parallel training under `torchrun`: who this process is, and the few collectives the loop needs.

`torchrun --nproc_per_node=N -m cnnlab train ...` starts N processes with RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT set. Each process trains a DistributedDataParallel
copy of the model on its own shard of every epoch's permutation (the loader's `rank`,
`world_size`); gradients are averaged by DDP, per-epoch training metrics are summed across
ranks here, and only rank 0 writes the run directory. Without those variables (or with
WORLD_SIZE=1) every function here is a no-op, so single-process runs pay nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from cnnlab.errors import ConfigError, TrainingError


@dataclass(frozen=True)
class Topology:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0


SINGLE = Topology()


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigError(
            f"environment variable {name}: expected an integer, got {text!r}"
        ) from None


def topology_from_env(env: Mapping[str, str] = os.environ) -> Topology:
    """The topology torchrun describes in `env` (single process when it says nothing)."""
    world_size = _env_int(env, "WORLD_SIZE", 1)
    rank = _env_int(env, "RANK", 0)
    local_rank = _env_int(env, "LOCAL_RANK", rank)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(
            f"environment: RANK={rank} and WORLD_SIZE={world_size} must satisfy 0 <= RANK < WORLD_SIZE"
        )
    return Topology(rank, world_size, local_rank)


def start(topology: Topology, device: torch.device) -> torch.device:
    """Join the process group (gloo on CPU, nccl on CUDA); the device this rank trains on."""
    if not topology.enabled:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", topology.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)]
        if missing:
            raise ConfigError(
                f"distributed run (WORLD_SIZE={topology.world_size}) needs {', '.join(missing)} "
                "in the environment; start it with torchrun"
            )
        dist.init_process_group(
            backend="nccl" if device.type == "cuda" else "gloo",
            rank=topology.rank,
            world_size=topology.world_size,
        )
    return device


def data_parallel(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """`model` in DistributedDataParallel, gradients averaged across ranks on each backward."""
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def training_module(
    model: torch.nn.Module, device: torch.device, topology: Topology, compile_model: bool
) -> torch.nn.Module | None:
    """What the training steps call: `model` in DDP under torchrun, then compiled if asked
    for; None when that is `model` itself. Checkpoints and evaluation use the bare model."""
    module = data_parallel(model, device) if topology.enabled else None
    if compile_model:
        module = torch.compile(model if module is None else module)
    return module


def stop(topology: Topology) -> None:
    """Leave the process group (after a final barrier so no rank exits mid-collective)."""
    if topology.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def sum_across(topology: Topology, tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` summed over all ranks (in place; gloo needs it on the CPU)."""
    if not topology.enabled:
        return tensor
    if tensor.device.type == "cpu" or dist.get_backend() == "nccl":
        dist.all_reduce(tensor)
        return tensor
    host = tensor.cpu()
    dist.all_reduce(host)
    tensor.copy_(host)
    return tensor


def from_main(topology: Topology, value: Any) -> Any:
    """Rank 0's `value` on every rank (e.g. the run directory it created)."""
    if not topology.enabled:
        return value
    box = [value if topology.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def weights_digest(model: torch.nn.Module) -> torch.Tensor:
    """A cheap fingerprint of the weights: per-parameter float64 sums, (P,)."""
    with torch.no_grad():
        return torch.stack([p.detach().double().sum() for p in model.parameters()]).cpu()


def check_in_step(topology: Topology, model: torch.nn.Module) -> None:
    """Raise unless every rank holds the same weights (DDP keeps them equal; this proves it)."""
    if not topology.enabled:
        return
    on_gpu = dist.get_backend() == "nccl"  # nccl gathers CUDA tensors, gloo CPU ones
    mine = weights_digest(model).to(next(model.parameters()).device if on_gpu else "cpu")
    gathered = [torch.empty_like(mine) for _ in range(topology.world_size)]
    dist.all_gather(gathered, mine)
    for rank, theirs in enumerate(gathered):
        if not torch.equal(theirs, gathered[0]):
            raise TrainingError(
                f"distributed run: rank {rank}'s weights differ from rank 0's after training"
            )
