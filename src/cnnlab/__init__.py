"""cnnlab: a workbench for convolutional image classifiers.

The Python API mirrors the command line: `cnnlab.train(config)`, `cnnlab.resume(run_dir)`,
`cnnlab.test_model(run_dir)`, `cnnlab.predict(run_dir, images)`,
`cnnlab.feature_visualization(run_dir, images)`, `cnnlab.write_report(run_dir)`,
`cnnlab.load_experiments(path)`, `cnnlab.run_sweep(spec_or_yaml)`,
`cnnlab.run_search(spec_or_yaml, trials)`,
`cnnlab.export(run_dir, formats, out)`. In Jupyter, results, `cnnlab.runs_table(results)`,
`cnnlab.summary_table(model, in_shape)` and `cnnlab.show_figures(run_dir)` render inline.
Heavy modules (torch) load on first use, so `import cnnlab` stays fast.
"""

from __future__ import annotations

from cnnlab.errors import CnnlabError
from cnnlab.lazy import lazy_attributes

__version__ = "0.1.0"

_LAZY = {
    "train": "cnnlab.experiment",
    "resume": "cnnlab.experiment",
    "test_model": "cnnlab.evaluate",
    "predict": "cnnlab.evaluate",
    "feature_visualization": "cnnlab.visualize",
    "write_report": "cnnlab.report",
    "run_sweep": "cnnlab.sweep",
    "run_search": "cnnlab.search",
    "export": "cnnlab.export",
    "load_experiments": "cnnlab.config",
    "load_dataset": "cnnlab.data",
    "build_model": "cnnlab.models",
    "summary_table": "cnnlab.models",
    "runs_table": "cnnlab.experiment",
    "show_figures": "cnnlab.visualize.gallery",
}

__all__ = ["CnnlabError", "__version__", *_LAZY]


__getattr__ = lazy_attributes(__name__, _LAZY)
