"""A fine-tuned run is self-contained: with the run it was fine-tuned from deleted, it still
evaluates, draws its figures and writes its report (its checkpoint records the architecture)."""

from __future__ import annotations

import json
import shutil

import torch

from cnnlab.cli import main
from cnnlab.experiment.engine import train
from cnnlab.runs import RunDir, load_run


def test_a_fine_tuned_run_outlives_its_parent(deep_run, tmp_path, make_transfer_config):
    parent = shutil.copytree(deep_run, tmp_path / "parent")
    config = make_transfer_config(tmp_path / "runs", "child", parent, "train.strategy=linear-probe")
    child = train(config, quiet=True, report=False).run_dir
    record = RunDir(child).load_checkpoint("best")["architecture"]
    assert record["kind"] == "transfer" and record["backbone"]["name"] == "convnet_deep"
    before = json.loads((child / "metrics.json").read_text())["accuracy"]
    shutil.rmtree(parent)

    loaded = load_run(child)
    assert loaded.model.net.head.out_features == 5 and loaded.model.net.frozen
    assert main(["eval", str(child)]) == 0
    assert json.loads((child / "metrics.json").read_text())["accuracy"] == before
    assert main(["figures", str(child)]) == 0
    assert (child / "figures" / "confusion_matrix.png").is_file()
    assert main(["report", str(child)]) == 0
    report = (child / "report.md").read_text(encoding="utf-8")
    assert "Model summary not available" not in report and "| head | Linear |" in report


def test_loading_a_run_leaves_the_global_random_state_alone(deep_run):
    torch.manual_seed(1234)
    torch_state = torch.get_rng_state()
    import numpy as np

    np.random.seed(99)
    numpy_state = np.random.get_state()[1].copy()
    load_run(deep_run)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)
