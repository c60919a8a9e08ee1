"""`eager(cls)` optimizers: the same updates and state as torch's, without importing
torch._dynamo (its import is 1-2 s of a 2-core CPU's start-up, issue #18)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from cnnlab.training.eager_optim import eager

CASES = [
    (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    (torch.optim.Adam, {}),
    (torch.optim.AdamW, {"weight_decay": 0.1}),
    (torch.optim.Adagrad, {}),
    (torch.optim.Adadelta, {}),
    (torch.optim.RMSprop, {"momentum": 0.5}),
]


def _train(cls, options, steps=4):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    optimizer = cls(model.parameters(), lr=0.05, **options)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        model(torch.randn(8, 5)).pow(2).mean().backward()
        optimizer.step()
    return model, optimizer


@pytest.mark.parametrize(("cls", "options"), CASES, ids=[c.__name__ for c, _ in CASES])
def test_same_updates_and_state(cls, options):
    model, optimizer = _train(eager(cls), options)
    reference_model, reference_optimizer = _train(cls, options)
    assert isinstance(optimizer, cls)
    for mine, theirs in zip(model.parameters(), reference_model.parameters(), strict=True):
        assert torch.equal(mine, theirs)
    mine_state, their_state = optimizer.state_dict(), reference_optimizer.state_dict()
    assert mine_state["param_groups"] == their_state["param_groups"]
    for key, values in their_state["state"].items():
        for name, value in values.items():
            assert torch.equal(
                torch.as_tensor(mine_state["state"][key][name]), torch.as_tensor(value)
            )


def test_state_dict_round_trip_resumes_identically():
    model, optimizer = _train(eager(torch.optim.Adam), {}, steps=2)
    saved = optimizer.state_dict()
    fresh = eager(torch.optim.Adam)(model.parameters(), lr=0.05)
    fresh.load_state_dict(saved)
    assert fresh.state_dict()["state"][0]["step"] == saved["state"][0]["step"]


def test_grad_mode_is_restored_after_step():
    model = torch.nn.Linear(3, 1)
    optimizer = eager(torch.optim.SGD)(model.parameters(), lr=0.1)
    model(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    assert torch.is_grad_enabled()


def test_training_does_not_import_dynamo():
    """Fresh interpreter: building, stepping and scheduling an optimizer leaves torch._dynamo out."""
    code = (
        "import sys, torch\n"
        "from cnnlab.config import OptimConfig\n"
        "from cnnlab.training.optim import build_optimizer, build_schedule\n"
        "m = torch.nn.Linear(3, 2)\n"
        "o = build_optimizer(m.parameters(), OptimConfig(), torch.device('cpu'))\n"
        "s = build_schedule(o, OptimConfig(), 2, 1)\n"
        "for _ in range(2):\n"
        "    o.zero_grad(); m(torch.ones(4, 3)).sum().backward(); o.step(); s.step()\n"
        "o.load_state_dict(o.state_dict())\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
