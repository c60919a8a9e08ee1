"""Reports: Markdown and a self-contained HTML page of one run, or a comparison page of several.

    write_report("runs/mnist-conv1")                          # -> (report.md, report.html)
    write_comparison(["runs/a", "runs/b"], "runs/comparison")  # -> (comparison.md, .html)

They read what the run directories hold (config, metrics, figures, log); only the model
summary and the dataset profile of a single-run report are computed.
"""

from cnnlab.report.compare import write_comparison
from cnnlab.report.diagnosis import Evaluated, Finding, diagnose
from cnnlab.report.sections import run_document, write_report

__all__ = ["Evaluated", "Finding", "diagnose", "run_document", "write_comparison", "write_report"]
