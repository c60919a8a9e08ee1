"""Sweep figures: each metric against a swept value, one series per value of the other keys
(lines over a numeric key, grouped bars over names), and each variant's per-epoch accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from cnnlab.sweep.epochs import EpochCurves
from cnnlab.sweep.grid import key_labels, value_label
from cnnlab.sweep.spec import SweepSpec
from cnnlab.visualize.save import save_figure

LOG_SPAN = 100  # a positive numeric axis spanning this ratio or more is drawn on a log scale
BAR_SPAN = 0.8  # of the space between two categories, the part a group of bars fills
TILT_CHARS = 24  # category labels longer than this (all together) are drawn at a slant
EPOCH_FIGURE = "epoch_accuracy"


LEGEND_INSIDE = 4  # series named inside the axes; more get a legend below them


def _figure() -> Figure:
    """A figure whose layout makes room for every label (ticks, titles, legend)."""
    return Figure(figsize=(6.4, 4.2), layout="constrained")


def _legend(figure: Figure, axes) -> None:
    """Name the series: inside the axes when few, else below them (never over the data)."""
    handles, names = axes.get_legend_handles_labels()
    if len(handles) <= 1:
        return
    if len(handles) <= LEGEND_INSIDE:
        axes.legend(fontsize="small")
    else:
        figure.legend(handles, names, loc="outside lower center", ncols=2, fontsize="small")


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
    figure = _figure()
    axes = figure.add_subplot()
    groups: dict[str, list[dict]] = {}
    for row in rows:
        name = ", ".join(f"{labels[k]}={value_label(row[k])}" for k in others) or metric
        groups.setdefault(name, []).append(row)
    width = BAR_SPAN / max(1, len(groups))
    for index, (name, group) in enumerate(groups.items()):
        points = []
        for position, value in enumerate(x_values):
            found = [r[metric] for r in group if r[x] == value and r.get(metric) is not None]
            if found:
                points.append((value if numeric else position, sum(found) / len(found)))
        if not points:
            continue
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        if numeric:
            axes.plot(xs, ys, marker="o", label=name)
        else:  # names have no order between them: a bar per name, never a line
            offset = (index - (len(groups) - 1) / 2) * width
            axes.bar([p + offset for p in xs], ys, width=width, label=name)
    if numeric and min(x_values) > 0 and max(x_values) / min(x_values) >= LOG_SPAN:
        axes.set_xscale("log")
    if not numeric:
        names = [value_label(v) for v in x_values]
        tilt = sum(map(len, names)) > TILT_CHARS
        axes.set_xticks(
            range(len(x_values)),
            names,
            rotation=30 if tilt else 0,
            ha="right" if tilt else "center",
        )
    axes.set_xlabel(labels[x])
    axes.set_ylabel(metric.replace("_", " "))
    axes.set_title(f"{spec.name}: {metric.replace('_', ' ')}")
    axes.grid(alpha=0.3)
    _legend(figure, axes)
    return figure


def epoch_figure(curves: EpochCurves) -> Figure:
    """Each variant's per-epoch accuracy (see `sweep.epochs`), one line per variant."""
    figure = _figure()
    axes = figure.add_subplot()
    for label, curve in curves.values.items():
        points = [(epoch, v) for epoch, v in enumerate(curve, start=1) if v is not None]
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    axes.set_xlabel("epoch")
    axes.set_ylabel(curves.metric.replace("_", " "))
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_title(f"{curves.metric.replace('_', ' ')} after each epoch")
    axes.grid(alpha=0.3)
    _legend(figure, axes)
    return figure


def write_sweep_figures(
    spec: SweepSpec, rows: Sequence[dict], folder: Path, curves: EpochCurves | None = None
) -> list[Path]:
    """One PNG per metric in `folder` (none when nothing is swept), and the per-epoch figure."""
    written = []
    for metric in spec.metrics if spec.keys else ():
        written += save_figure(metric_figure(spec, rows, metric), Path(folder) / metric)
    if curves is not None and curves.epochs:
        written += save_figure(epoch_figure(curves), Path(folder) / EPOCH_FIGURE)
    return written
