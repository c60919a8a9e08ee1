"""Strategies: a linear probe leaves its backbone bit-identical (batch norm included), fine-tuning
with a lower backbone rate and two-stage give the expected parameter groups and schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlab.experiment import engine as experiment
from cnnlab.experiment.engine import train
from cnnlab.training.checkpoint import load_checkpoint
from cnnlab.training.loop import FitHooks, fit
from cnnlab.transfer import load_backbone, transfer_net


def _backbone_state(checkpoint: dict, prefix: str) -> dict[str, np.ndarray]:
    """The entries of a checkpoint's model under `prefix`, the prefix removed, as arrays."""
    return {
        key[len(prefix) :]: value.numpy()
        for key, value in checkpoint["model"].items()
        if key.startswith(prefix)
    }


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory, deep_run, make_transfer_config):
    out = tmp_path_factory.mktemp("probe")
    config = make_transfer_config(
        out, "probe", deep_run, "train.strategy=linear-probe", "train.epochs=2", "optim.lr=0.05"
    )
    return train(config, quiet=True, report=False).run_dir


def test_a_linear_probe_changes_only_the_head(deep_run, probe_run):
    source = _backbone_state(load_checkpoint(deep_run / "best.pt"), "net.")
    trained = load_checkpoint(probe_run / "last.pt")
    backbone = _backbone_state(trained, "net.backbone.")
    assert set(backbone) == set(source) - {"head.fc.weight", "head.fc.bias"}
    assert any("running_var" in key for key in backbone)  # batch norm statistics are compared
    for key, value in backbone.items():
        np.testing.assert_array_equal(value, source[key], err_msg=key)
    head = _backbone_state(trained, "net.head.")
    assert head["weight"].shape == (5, 16)  # digits 5-9: the new class count
    [group] = trained["optimizer"]["param_groups"]  # frozen parameters never reach it
    assert (group["name"], len(group["params"])) == ("head", 2)


def test_finetuning_moves_the_backbone_and_its_statistics(deep_run, tmp_path, make_transfer_config):
    config = make_transfer_config(tmp_path, "tune", deep_run, "optim.lr=0.05")
    run = train(config, quiet=True, report=False).run_dir
    source = _backbone_state(load_checkpoint(deep_run / "best.pt"), "net.")
    backbone = _backbone_state(load_checkpoint(run / "last.pt"), "net.backbone.")
    for key in ("stage1.conv1.weight", "stage2.bn2.running_mean", "head.fc1.weight"):
        assert not np.array_equal(backbone[key], source[key]), key


def test_discriminative_rates_give_named_groups(deep_run, tmp_path, make_transfer_config):
    config = make_transfer_config(
        tmp_path, "groups", deep_run, "optim.lr=0.01", "train.backbone_lr_mult=0.1"
    )
    prepared = experiment.prepare(config)
    groups = prepared.optimizer.param_groups
    assert [g["name"] for g in groups] == ["head", "backbone"]
    assert [g["lr"] for g in groups] == pytest.approx([0.01, 0.001])
    net = prepared.model.net
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in net.head.parameters()}
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in net.backbone.parameters()}


def test_two_stage_trains_the_head_alone_then_everything(deep_run, tmp_path, make_transfer_config):
    config = make_transfer_config(
        tmp_path,
        "two",
        deep_run,
        "train.strategy=two-stage",
        "train.head_epochs=1",
        "train.epochs=2",
        "train.backbone_lr_mult=0.5",
        "optim.lr=0.01",
    )
    prepared = experiment.prepare(config)
    backbone_group = prepared.optimizer.param_groups[1]
    assert (backbone_group["name"], backbone_group["start_epoch"]) == ("backbone", 1)
    assert backbone_group["lr"] == 0.0  # the head trains alone first

    def weights() -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in prepared.model.net.named_parameters()}

    snapshots = [weights()]
    lrs = []

    def on_epoch(row, improved, state):
        snapshots.append(weights())
        lrs.append([group["lr"] for group in prepared.optimizer.param_groups])

    fit(
        prepared.model,
        prepared.optimizer,
        prepared.scheduler,
        prepared.train_loader,
        None,
        num_classes=5,
        train_config=config.train,
        optim_config=config.optim,
        device=prepared.device,
        hooks=FitHooks(on_epoch=on_epoch),
    )
    start, after_head, after_all = snapshots
    for name in start:
        changed_first = not torch.equal(start[name], after_head[name])
        assert changed_first == name.startswith("head."), name
    assert not torch.equal(
        after_head["backbone.stage1.conv1.weight"], after_all["backbone.stage1.conv1.weight"]
    )
    assert lrs == [pytest.approx([0.01, 0.005]), pytest.approx([0.01, 0.005])]


def test_a_transfer_run_can_be_the_backbone_of_another(probe_run):
    from cnnlab.config import ModelConfig

    backbone = load_backbone(ModelConfig(pretrained=str(probe_run)))
    net = transfer_net(backbone, (1, 28, 28), 2).train()
    assert net.head.out_features == 2 and isinstance(net.backbone.head, torch.nn.Identity)
    assert all(p.requires_grad for p in net.parameters())  # no longer a frozen probe
    assert net.backbone.backbone.training
