"""ROC curves one-vs-rest per class, with micro and macro averages and AUC in the legend.

The curves come from `cnnlab.evaluate.roc_curves`; this module only draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from cnnlab.visualize.panels import fit_axes, new_figure

Curve = tuple[np.ndarray, np.ndarray, float]  # (fpr, tpr, auc); auc NaN when undefined
MAX_CLASS_CURVES = 10  # beyond this many classes, only averages and the extremes are drawn
EXTREMES = 3  # best and worst classes drawn when there are many
LEGEND_INSIDE = 7  # legends with at most this many entries sit inside the axes
_EMPTY_CURVE: Curve = (np.zeros(0), np.zeros(0), float("nan"))


def _curve(entry) -> Curve:
    """A (fpr, tpr, auc) triple from a tuple or a {"fpr", "tpr", "auc"} mapping."""
    if isinstance(entry, Mapping):
        entry = (entry["fpr"], entry["tpr"], entry["auc"])
    fpr, tpr, value = entry
    return np.asarray(fpr, float), np.asarray(tpr, float), float("nan" if value is None else value)


def _per_class(curves: Mapping, class_names: Sequence[str]) -> list[Curve]:
    """The per-class curves in class order, keyed by index (0..K-1) or by class name.

    A class with no entry (absent from the test labels) gets an empty curve with AUC NaN.
    """
    result = []
    for k, name in enumerate(class_names):
        keys = [k, name] + ([str(k)] if str(k) not in class_names else [])
        entry = next((curves[key] for key in keys if key in curves), None)
        result.append(_EMPTY_CURVE if entry is None else _curve(entry))
    return result


def _label(name: str, value: float) -> str:
    """A legend entry: the name and its AUC (n/a when undefined)."""
    return f"{name} (AUC {value:.3f})" if np.isfinite(value) else f"{name} (AUC n/a)"


def plot_roc(
    curves: Mapping, class_names: Sequence[str], *, max_classes: int = MAX_CLASS_CURVES
) -> Figure:
    """ROC per class plus micro/macro averages, `curves` as `cnnlab.evaluate.roc_curves` gives them.

    With more than `max_classes` classes, only the averages and the EXTREMES best and worst
    classes by AUC are drawn, and the title says so.
    """
    per_class = _per_class(curves, class_names)
    K = len(class_names)
    order = list(range(K))
    prefix = dict.fromkeys(order, "")
    note = ""
    if K > max_classes:
        ranked = sorted(
            (k for k in order if np.isfinite(per_class[k][2])), key=lambda k: (-per_class[k][2], k)
        )
        chosen = ranked[:EXTREMES] + [k for k in ranked[-EXTREMES:] if k not in ranked[:EXTREMES]]
        order = chosen
        prefix = {k: ("best: " if k in ranked[:EXTREMES] else "worst: ") for k in chosen}
        note = f"\naverages, the {EXTREMES} best and {EXTREMES} worst of {K} classes"
    figure = new_figure(6.0 if len(order) + 3 <= LEGEND_INSIDE else 8.2, 5.4)
    ax = figure.add_subplot()
    colors = _colors(len(order))
    missing = []
    for color, k in zip(colors, order, strict=True):
        fpr, tpr, value = per_class[k]
        if fpr.size == 0:
            missing.append(class_names[k])
            continue
        ax.plot(
            fpr, tpr, color=color, linewidth=1.4, label=_label(prefix[k] + class_names[k], value)
        )
    for key, style in (("micro", (":", "deeppink")), ("macro", ("--", "navy"))):
        if key in curves:
            fpr, tpr, value = _curve(curves[key])
            if fpr.size:
                ax.plot(
                    fpr,
                    tpr,
                    linestyle=style[0],
                    color=style[1],
                    linewidth=2.4,
                    label=_label(f"{key}-average", value),
                )
    ax.plot([0, 1], [0, 1], color="gray", linestyle="-", linewidth=0.8, alpha=0.6, label="chance")
    if missing:
        note += "\nno curve (absent from the test set): " + ", ".join(missing[:5])
        note += " …" if len(missing) > 5 else ""
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC curves, one class vs. the rest" + note, fontsize=10)
    ax.grid(True, alpha=0.3)
    if len(ax.get_legend_handles_labels()[0]) <= LEGEND_INSIDE:
        ax.legend(loc="lower right", fontsize="small")
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", borderaxespad=0.0)
    fit_axes(ax, square=True)
    return figure


def _colors(count: int) -> list:
    """Distinct colours for `count` lines (tab10, then tab20)."""
    palette = colormaps["tab10" if count <= 10 else "tab20"]
    return [palette(i % palette.N) for i in range(count)]
