"""The range test's arithmetic: the learning-rate schedule, loss smoothing and the suggestions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BETA = 0.98  # weight of the running average of the loss
EXPLODE = 4.0  # the test stops once the smoothed loss exceeds this multiple of its minimum


@dataclass(frozen=True)
class LrSuggestion:
    """Two suggested learning rates from one range test."""

    steepest: float  # where the smoothed loss falls fastest (per decade of learning rate)
    min_over_10: float  # a tenth of the rate with the lowest smoothed loss
    minimum: float  # the rate with the lowest smoothed loss


def lr_schedule(start: float, end: float, steps: int) -> np.ndarray:
    """`steps` learning rates rising exponentially from `start` to `end`."""
    return np.geomspace(start, end, steps)  # (steps,)


def smooth(losses: np.ndarray, beta: float = BETA) -> np.ndarray:
    """Exponential moving average of `losses`, bias-corrected so early values are not pulled to 0."""
    losses = np.asarray(losses, dtype=np.float64)  # (T,)
    average, out = 0.0, np.empty_like(losses)
    for t, loss in enumerate(losses):
        average = beta * average + (1 - beta) * loss
        out[t] = average / (1 - beta ** (t + 1))
    return out


def exploded(smoothed: np.ndarray, factor: float = EXPLODE) -> bool:
    """True when the latest smoothed loss is non-finite or above `factor` × the minimum so far."""
    latest = smoothed[-1]
    return not np.isfinite(latest) or latest > factor * np.min(smoothed)


def suggest_lr(lrs: np.ndarray, smoothed: np.ndarray) -> LrSuggestion:
    """Steepest descent of the smoothed loss (before its minimum), and the minimum / 10."""
    lrs, smoothed = np.asarray(lrs, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    if lrs.shape != smoothed.shape or lrs.size < 2:
        raise ValueError(
            f"need matching arrays of >= 2 points, got {lrs.shape} and {smoothed.shape}"
        )
    finite = np.isfinite(smoothed)
    lrs, smoothed = lrs[finite], smoothed[finite]
    best = int(np.argmin(smoothed))
    minimum = float(lrs[best])
    if best < 2:  # no descent to measure: fall back to the minimum's tenth
        return LrSuggestion(minimum / 10, minimum / 10, minimum)
    slope = np.gradient(smoothed[: best + 1], np.log10(lrs[: best + 1]))  # (best + 1,)
    return LrSuggestion(float(lrs[int(np.argmin(slope))]), minimum / 10, minimum)
