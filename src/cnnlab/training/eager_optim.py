"""torch optimizers without their `torch._dynamo` guards, for a training loop that never compiles
its optimizer step.

torch wraps `Optimizer.step`, `zero_grad`, `add_param_group`, `state_dict` and
`load_state_dict` so that `torch.compile` of a whole training step treats them specially; the
wrappers import `torch._dynamo` on their first call, which costs 1.1-2 s of a 2-core CPU's
start-up (measured: `python -X importtime`, issue #18). cnnlab compiles at most the model
(`train.compile`), never the optimizer step, so those guards do nothing for it. `eager(cls)` is
a subclass of `cls` that calls the same undecorated methods in the same grad mode: the same
arithmetic, the same state dicts, still an instance of `cls`. A method that torch does not
wrap the way this module expects is simply left as torch defines it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import torch

# the methods torch.optim.Optimizer wraps in `torch._disable_dynamo` (no grad-mode change)
GUARDED_METHODS = ("zero_grad", "add_param_group", "state_dict", "load_state_dict")


def _undecorated(cls: type, name: str) -> Callable[..., Any] | None:
    """The innermost function under torch's decorators (functools.wraps keeps it), or None
    when the method is not decorated. Unwrapping also drops the profiler hook that
    `Optimizer.__init__` adds to a class's `step`; it adds it again to the subclass."""
    method = getattr(cls, name, None)
    if method is None or not hasattr(method, "__wrapped__"):
        return None
    return inspect.unwrap(method)


def _plain_step(raw_step: Callable[..., Any]) -> Callable[..., Any]:
    """`step` as torch's `_use_grad_for_differentiable` runs it, minus the graph breaks."""

    @functools.wraps(raw_step)
    def step(self, *args: Any, **kwargs: Any) -> Any:
        with torch.set_grad_enabled(bool(self.defaults.get("differentiable", False))):
            return raw_step(self, *args, **kwargs)

    return step


@functools.cache
def eager(cls: type[torch.optim.Optimizer]) -> type[torch.optim.Optimizer]:
    """A subclass of optimizer class `cls` whose guarded methods skip `torch._dynamo`."""
    overrides: dict[str, Any] = {"__doc__": cls.__doc__, "__module__": __name__}
    raw_step = _undecorated(cls, "step")
    if raw_step is not None:
        overrides["step"] = _plain_step(raw_step)
    for name in GUARDED_METHODS:
        raw = _undecorated(cls, name)
        if raw is not None:
            overrides[name] = raw
    return type(cls.__name__, (cls,), overrides)
