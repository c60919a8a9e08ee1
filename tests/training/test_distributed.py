"""Data-parallel training: the topology torchrun describes, and 2 CPU processes (gloo) end to end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import yaml

from cnnlab.errors import ConfigError
from cnnlab.training.distributed import SINGLE, Topology, topology_from_env

TINY = [
    "data.dataset=mnist-sample", "data.offline=true", "data.classes=[0,1,7]",
    "data.per_class=24", "model.name=conv1", "train.batch_size=8", "train.device=cpu",
    "train.threads=1", "train.monitor=train_loss",
]  # fmt: skip


def test_topology_from_env():
    assert topology_from_env({}) == SINGLE
    assert not SINGLE.enabled and SINGLE.is_main
    topology = topology_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert topology == Topology(rank=1, world_size=2, local_rank=1)
    assert topology.enabled and not topology.is_main


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORLD_SIZE": "two"}, "WORLD_SIZE: expected an integer, got 'two'"),
        ({"RANK": "2", "WORLD_SIZE": "2"}, "RANK=2 and WORLD_SIZE=2 must satisfy"),
    ],
)
def test_bad_environment_names_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        topology_from_env(env)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cnnlab(*args: str, nproc: int = 1) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if nproc == 1:
        command = [sys.executable, "-m", "cnnlab", *args]
    else:
        command = [
            sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
            "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "cnnlab", *args,
        ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_two_processes_train_identical_weights_and_resume_on_one(tmp_path):
    overrides = [item for o in [*TINY, f"out={tmp_path}", "name=ddp", "train.epochs=1"]
                 for item in ("--set", o)]  # fmt: skip
    done = _cnnlab("train", "--quiet", "--no-report", *overrides, nproc=2)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "ddp"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp"]  # rank 1 wrote no run of its own
    for name in ("config.yaml", "env.json", "metrics.csv", "iterations.csv", "best.pt", "last.pt"):
        assert (run / name).is_file(), name
    log = (run / "train.log").read_text(encoding="utf-8")
    assert "2 processes" in log and "weights identical on all 2 ranks" in log
    assert log.rstrip().splitlines()[-1].startswith("test accuracy: ")
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    env = json.loads((run / "env.json").read_text())
    assert env["world_size"] == 2
    # each rank trained on half of the 72 images: 36 per rank, batches of 8 -> 5 per epoch
    iterations = (run / "iterations.csv").read_text().strip().splitlines()
    assert len(iterations) - 1 == 5
    state = torch.load(run / "last.pt", weights_only=True)
    assert not any(key.startswith("module.") for key in state["model"])  # unwrapped weights

    # The same checkpoint goes on in one process, to a second epoch (a different world size).
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["train"]["epochs"] = 2
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "status.json").write_text(json.dumps({"status": "interrupted", "epoch": 1}))
    resumed = _cnnlab("train", "--resume", str(run), "--quiet", "--no-report")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics = (run / "metrics.csv").read_text().strip().splitlines()
    assert [line.split(",")[0] for line in metrics[1:]] == ["1", "2"]
    # one process takes all 72 images: 9 batches in epoch 2, after the 5 of epoch 1
    assert len((run / "iterations.csv").read_text().strip().splitlines()) - 1 == 5 + 9
