"""The proof that an exported file answers as its run: probabilities and classes compared.

Pure functions of arrays: the run's own probabilities (its best checkpoint, fp32) against the
exported file's, image by image, on the same proof images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Disagreement:
    """One image the two models classify differently, with how sure each was."""

    index: int  # position in the proof split
    label: int  # the true class
    run_class: int
    export_class: int
    run_margin: float  # top-1 minus top-2 probability of the run's model
    export_margin: float  # ...and of the exported file


@dataclass(frozen=True)
class Proof:
    """The run's model against an exported file on `images` proof images."""

    images: int
    max_abs_difference: float  # of any class probability of any image
    agreement: float  # fraction of images with the same top-1 class
    disagreements: tuple[Disagreement, ...]
    run_accuracy: float
    export_accuracy: float
    tolerance: float | None  # None: reported only (int8), never a failure

    @property
    def passed(self) -> bool:
        """Every image the same class and every probability within the tolerance."""
        if self.tolerance is None:
            return True
        return self.agreement == 1.0 and self.max_abs_difference <= self.tolerance


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities (N, K) float64 of logits (N, K), as evaluation computes them."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def margins(probabilities: np.ndarray) -> np.ndarray:
    """(N,) top-1 minus top-2 probability of each image (the top-1 alone for one class)."""
    if probabilities.shape[1] < 2:
        return probabilities[:, 0].copy()
    top = np.sort(probabilities, axis=1)[:, -2:]  # (N, 2): second, first
    return top[:, 1] - top[:, 0]


def compare(
    run: np.ndarray, exported: np.ndarray, labels: np.ndarray, tolerance: float | None
) -> Proof:
    """The proof from the run's probabilities (N, K), the file's (N, K) and the labels (N,)."""
    if run.shape != exported.shape:
        return Proof(len(labels), float("inf"), 0.0, (), _accuracy(run, labels), 0.0, tolerance)
    run_class, export_class = run.argmax(axis=1), exported.argmax(axis=1)
    run_margin, export_margin = margins(run), margins(exported)
    differ = np.flatnonzero(run_class != export_class)
    disagreements = tuple(
        Disagreement(
            int(i),
            int(labels[i]),
            int(run_class[i]),
            int(export_class[i]),
            float(run_margin[i]),
            float(export_margin[i]),
        )
        for i in differ
    )
    return Proof(
        images=len(labels),
        max_abs_difference=_max_difference(run, exported),
        agreement=float(1 - len(differ) / max(1, len(labels))),
        disagreements=disagreements,
        run_accuracy=_accuracy(run, labels),
        export_accuracy=_accuracy(exported, labels),
        tolerance=tolerance,
    )


def _max_difference(run: np.ndarray, exported: np.ndarray) -> float:
    """The largest absolute difference; infinite when the file answered NaN or infinity."""
    difference = np.abs(run - exported)
    if not np.isfinite(difference).all():
        return float("inf")
    return float(difference.max()) if difference.size else 0.0


def _accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float((probabilities.argmax(axis=1) == labels).mean()) if len(labels) else 0.0
