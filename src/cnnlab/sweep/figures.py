"""Sweep figures: each metric against a swept value, one line per value of the other keys."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from cnnlab.sweep.grid import key_labels, value_label
from cnnlab.sweep.spec import SweepSpec
from cnnlab.visualize.save import save_figure

LOG_SPAN = 100  # a positive numeric axis spanning this ratio or more is drawn on a log scale


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def x_key(spec: SweepSpec) -> str:
    """The key along the x axis: the last numeric swept key, else the first one."""
    numeric = [key for key, values in spec.grid if _numeric(values)]
    return numeric[-1] if numeric else spec.keys[0]


def metric_figure(spec: SweepSpec, rows: Sequence[dict], metric: str) -> Figure:
    """`metric` (mean over seeds) against the x key, one line per value of the other keys."""
    labels = key_labels(spec.keys)
    x = x_key(spec)
    others = [key for key in spec.keys if key != x]
    x_values = dict(spec.grid)[x]
    numeric = _numeric(x_values)
    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    groups: dict[str, list[dict]] = {}
    for row in rows:
        name = ", ".join(f"{labels[k]}={value_label(row[k])}" for k in others) or metric
        groups.setdefault(name, []).append(row)
    for name, group in groups.items():
        points = []
        for position, value in enumerate(x_values):
            found = [r[metric] for r in group if r[x] == value and r.get(metric) is not None]
            if found:
                points.append((value if numeric else position, sum(found) / len(found)))
        if points:
            axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
    if numeric and min(x_values) > 0 and max(x_values) / min(x_values) >= LOG_SPAN:
        axes.set_xscale("log")
    if not numeric:
        axes.set_xticks(range(len(x_values)), [value_label(v) for v in x_values])
    axes.set_xlabel(labels[x])
    axes.set_ylabel(metric.replace("_", " "))
    axes.set_title(f"{spec.name}: {metric.replace('_', ' ')}")
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small")
    return figure


def write_sweep_figures(spec: SweepSpec, rows: Sequence[dict], folder: Path) -> list[Path]:
    """One PNG per metric in `folder`; none when nothing is swept."""
    if not spec.keys:
        return []
    written = []
    for metric in spec.metrics:
        written += save_figure(metric_figure(spec, rows, metric), Path(folder) / metric)
    return written
