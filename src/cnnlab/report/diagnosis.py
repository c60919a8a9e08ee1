"""A short diagnosis read off the per-epoch curves: over-fitting, under-fitting, divergence.

A pure function of the metrics.csv rows (and the run's status), so it can be tested on
hand-made rows. Trends are smoothed over 3 epochs so one noisy epoch never decides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SMOOTHING = 3  # epochs in the centred moving average of a curve
MIN_RISE = 0.05  # over-fitting: the smoothed val loss ends >= 5 % above its minimum
PLATEAU = 0.05  # a loss that fell < 5 % over the last 3 epochs has plateaued
HIGH_LOSS = 0.5  # of ln(num_classes), the loss of a uniform guess
KINDS = ("diverged", "overfitting", "underfitting", "healthy", "no_validation", "empty")
WARNINGS = ("diverged", "overfitting", "underfitting")  # the kinds that say something is wrong


@dataclass(frozen=True)
class Finding:
    """One sentence of the diagnosis; `epoch` is the epoch it points at, when there is one."""

    kind: str  # one of KINDS
    message: str
    epoch: int | None = None


def smooth(values: Sequence[float], window: int = SMOOTHING) -> np.ndarray:
    """Centred moving average, the window shrinking at both ends (no shift of the minimum)."""
    values = np.asarray(values, dtype=np.float64)  # (E,)
    half = window // 2
    return np.array([values[max(0, i - half) : i + half + 1].mean() for i in range(len(values))])


def _column(rows: Sequence[Mapping], key: str) -> list[float | None]:
    return [None if row.get(key) is None else float(row[key]) for row in rows]


def _slope(values: Sequence[float]) -> float:
    """Least-squares slope per epoch (0 for fewer than two points)."""
    if len(values) < 2:
        return 0.0
    return float(np.polyfit(np.arange(len(values), dtype=np.float64), values, 1)[0])


def _diverged(rows: Sequence[Mapping], status: Mapping) -> Finding | None:
    """Divergence as recorded in status.json, or a non-finite training loss in the rows."""
    bad = [row for row in rows if not math.isfinite(row.get("train_loss") or 0.0)]
    if status.get("status") != "diverged" and not bad:
        return None
    epoch = status.get("epoch") or (int(bad[0]["epoch"]) if bad else len(rows) + 1)
    near = f" near iteration {status['iteration']}" if status.get("iteration") else ""
    return Finding(
        "diverged",
        f"Diverged in epoch {epoch}{near}: the loss became NaN, infinite or exploded, so training "
        "stopped; lower the learning rate, add warm-up or gradient clipping.",
        int(epoch),
    )


def _overfitting(epochs: list[int], train: list[float], val: list[float]) -> Finding | None:
    """Validation loss rising for >= 2 epochs past its (smoothed) minimum while training loss falls."""
    smoothed = smooth(val)  # (E,)
    best = int(np.argmin(smoothed))
    after = np.asarray(val[best + 1 :])
    if len(after) < 2 or (after > val[best]).sum() < 2:
        return None
    if smoothed[-1] < smoothed[best] * (1 + MIN_RISE) or _slope(val[best:]) <= 0:
        return None
    if _slope(train[best:]) >= 0:
        return None
    return Finding(
        "overfitting",
        f"Over-fitting from epoch {epochs[best]}: validation loss rose from {val[best]:.3f} "
        f"(epoch {epochs[best]}) to {val[-1]:.3f} (epoch {epochs[-1]}) while training loss fell "
        f"from {train[best]:.3f} to {train[-1]:.3f}; stop near epoch {epochs[best]}, add data "
        "augmentation, weight decay or dropout.",
        epochs[best],
    )


def _underfitting(
    epochs: list[int],
    train: list[float],
    val: list[float | None],
    accuracy: list[float | None],
    num_classes: int | None,
) -> Finding | None:
    """Both losses plateaued high (against ln K), or training accuracy still low at the end."""
    plateaued = len(train) >= 3 and (train[-3] - train[-1]) < PLATEAU * abs(train[-3])
    chance_loss = math.log(num_classes) if num_classes and num_classes > 1 else None
    end_val = [v for v in val[-2:] if v is not None]
    high = chance_loss is not None and smooth(train)[-1] > HIGH_LOSS * chance_loss
    high = high and (not end_val or min(end_val) > HIGH_LOSS * chance_loss)
    chance = 1.0 / num_classes if num_classes else 0.0
    low_bar = chance + 0.5 * (1.0 - chance)  # halfway from a guess to perfect
    end_accuracy = [a for a in accuracy[-2:] if a is not None]
    low = bool(end_accuracy) and max(end_accuracy) < low_bar
    if not ((plateaued and high) or low):
        return None
    what = []
    if high:
        what.append(f"training loss {train[-1]:.3f} vs {chance_loss:.3f} for a uniform guess")
    if low:
        what.append(f"training accuracy {end_accuracy[-1]:.3f} (below {low_bar:.2f})")
    advice = (
        "the loss has plateaued: try a larger model, a higher learning rate or less regularisation"
        if plateaued
        else "the loss is still falling: train for more epochs"
    )
    return Finding(
        "underfitting",
        f"Under-fitting at epoch {epochs[-1]}: {' and '.join(what)}; {advice}.",
        epochs[-1],
    )


def _summary(epochs: list[int], train: list[float], val: list[float | None]) -> str:
    """How the losses moved, for the healthy finding."""
    text = f"training loss fell from {train[0]:.3f} to {train[-1]:.3f} over {len(epochs)} epochs"
    known = [(e, v) for e, v in zip(epochs, val, strict=True) if v is not None]
    if known:
        best_epoch, best = min(known, key=lambda pair: pair[1])
        text += f", validation loss reached {best:.3f} at epoch {best_epoch}"
    return text


def diagnose(
    rows: Sequence[Mapping[str, float | None]],
    num_classes: int | None = None,
    status: Mapping | None = None,
) -> list[Finding]:
    """Findings from the metrics.csv rows (and status.json): what went wrong, or that nothing did."""
    status = status or {}
    diverged = _diverged(rows, status)
    rows = [row for row in rows if row.get("train_loss") is not None]
    if diverged:
        return [diverged]
    if not rows:
        return [Finding("empty", "No epoch finished yet: nothing to diagnose.")]
    epochs = [int(row["epoch"]) for row in rows]
    train = [float(v) for v in _column(rows, "train_loss")]
    val = _column(rows, "val_loss")
    accuracy = _column(rows, "train_accuracy")
    findings = []
    known = [i for i, v in enumerate(val) if v is not None and math.isfinite(v)]
    if len(known) >= 3:
        findings.append(
            _overfitting(
                [epochs[i] for i in known], [train[i] for i in known], [val[i] for i in known]
            )
        )
    findings.append(_underfitting(epochs, train, val, accuracy, num_classes))
    findings = [finding for finding in findings if finding is not None]
    if not findings:
        still = len(train) >= 3 and (train[-3] - train[-1]) >= PLATEAU * abs(train[-3])
        tail = "; the loss is still falling, so more epochs may help" if still else ""
        findings.append(
            Finding(
                "healthy",
                f"Healthy run: {_summary(epochs, train, val)}; no sign of over- or under-fitting{tail}.",
            )
        )
    if not known:
        findings.append(
            Finding(
                "no_validation",
                "No validation split: over-fitting cannot be read off the curves (set data.val).",
            )
        )
    return findings
