"""cnnlab: a workbench for convolutional image classifiers.

The Python API mirrors the command line: `cnnlab.train(config)`, `cnnlab.resume(run_dir)`,
`cnnlab.load_experiments(path)`. Heavy modules (torch) load on first use, so `import cnnlab`
stays fast.
"""

from __future__ import annotations

import importlib

from cnnlab.errors import CnnlabError

__version__ = "0.1.0"

_LAZY = {
    "train": "cnnlab.runs.experiment",
    "resume": "cnnlab.runs.experiment",
    "load_experiments": "cnnlab.config",
    "load_dataset": "cnnlab.data",
    "build_model": "cnnlab.models",
}

__all__ = ["CnnlabError", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")
