"""A short diagnosis of a run: over-fitting, under-fitting, divergence, evaluation mismatches.

A pure function of the metrics.csv rows, the run's status and the numbers measured on the
evaluated weights (`Evaluated`: training and test accuracy of best.pt), so it can be tested on
hand-made numbers. The running training accuracy of metrics.csv is averaged while the weights
move and in training mode; the evaluated numbers are what the saved model does, so they decide
over- and under-fitting whenever they exist. Trends are smoothed over 3 epochs so one noisy
epoch never decides.
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
GAP = 0.10  # accuracies this far apart (and beyond sampling noise) disagree
NOISE_Z = 3.0  # ... and further apart than this many standard errors of their difference
KINDS = (
    "diverged",
    "train_gap",  # evaluated training accuracy far below the running one
    "overfitting",
    "underfitting",
    "val_test_gap",
    "healthy",
    "note",  # worth knowing, not wrong
    "no_validation",
    "empty",
)
# the kinds that say something is wrong
WARNINGS = ("diverged", "train_gap", "overfitting", "underfitting", "val_test_gap")


@dataclass(frozen=True)
class Finding:
    """One sentence of the diagnosis; `epoch` is the epoch it points at, when there is one."""

    kind: str  # one of KINDS
    message: str
    epoch: int | None = None


@dataclass(frozen=True)
class Evaluated:
    """What the evaluated weights (best.pt) scored after training; None where not measured."""

    train_accuracy: float | None = None  # final_metrics.json `final_train_accuracy`
    train_images: int | None = None  # training images it was measured on
    test_accuracy: float | None = None  # metrics.json `accuracy`
    test_images: int | None = None
    majority: float | None = None  # the test split's most common class share: a constant guess
    epoch: int | None = None  # the epoch whose weights were evaluated (status `best_epoch`)
    val_images: int | None = None


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


def _variance(p: float, n: int | None) -> float:
    """Sampling variance of an accuracy `p` measured on `n` images (0 when `n` is unknown)."""
    return p * (1.0 - p) / n if n else 0.0


def apart(a: float, n_a: int | None, b: float, n_b: int | None) -> bool:
    """Whether accuracies `a` and `b` differ by more than GAP and more than sampling noise."""
    noise = NOISE_Z * math.sqrt(_variance(a, n_a) + _variance(b, n_b))
    return abs(a - b) > max(GAP, noise)


def _evaluated_row(rows: Sequence[Mapping], epoch: int | None) -> Mapping:
    """The metrics.csv row of the evaluated weights' epoch (the last row when unknown)."""
    if epoch is not None:
        for row in rows:
            if int(row["epoch"]) == epoch:
                return row
    return rows[-1]


def _train_gap(row: Mapping, evaluated: Evaluated) -> Finding | None:
    """The evaluated weights against the running training accuracy of the same epoch."""
    running, final = row.get("train_accuracy"), evaluated.train_accuracy
    if running is None or final is None or not apart(final, evaluated.train_images, running, None):
        return None
    epoch = int(row["epoch"])
    measured = (
        f"the evaluated weights (epoch {epoch}) score {final:.3f} on "
        f"{evaluated.train_images or 'the'} training images, but {running:.3f} was measured "
        f"on training batches while epoch {epoch} trained"
    )
    if final > running:
        return Finding(
            "note",
            f"Training accuracy: {measured}. That running figure averages weights that were "
            "still improving, in training mode (with any augmentation and dropout); a gap this "
            "way round is expected early in training or with strong augmentation.",
            epoch,
        )
    return Finding(
        "train_gap",
        f"Evaluation mismatch: {measured}. The network behaves differently in evaluation mode "
        "than in training mode: batch-norm running statistics that do not match the data "
        "(few or small batches, a high learning rate late in training), dropout the network "
        "leans on, or augmentation that makes training images unlike the plain ones. The test "
        f"accuracy is of the evaluated weights, so {final:.3f}, not {running:.3f}, is what "
        "the model does on training images; train longer at a lower final learning rate, "
        "use larger batches or check the normalisation layers.",
        epoch,
    )


def _generalisation_gap(evaluated: Evaluated) -> Finding | None:
    """Evaluated training accuracy well above the test accuracy."""
    train, test = evaluated.train_accuracy, evaluated.test_accuracy
    if train is None or test is None or train <= test:
        return None
    if not apart(train, evaluated.train_images, test, evaluated.test_images):
        return None
    return Finding(
        "overfitting",
        f"Over-fitting: the evaluated weights score {train:.3f} on training images but "
        f"{test:.3f} on the test set (a gap of {train - test:.3f}); add data or augmentation "
        "(data.augment), weight decay or dropout, or stop earlier.",
        evaluated.epoch,
    )


def _baseline(num_classes: int | None, majority: float | None) -> tuple[float, str]:
    """The accuracy a model learning nothing gets, and how it gets it."""
    chance = 1.0 / num_classes if num_classes else 0.0
    if majority is not None and majority > chance + 1e-9:
        return majority, "always predicting the most common test class"
    return chance, f"a uniform guess among {num_classes} classes" if num_classes else "guessing"


def _evaluated_underfitting(evaluated: Evaluated, num_classes: int | None) -> Finding | None:
    """Evaluated training (and test) accuracy low against what guessing gets."""
    train, test = evaluated.train_accuracy, evaluated.test_accuracy
    if train is None:
        return None
    baseline, how = _baseline(num_classes, evaluated.majority)
    bar = baseline + 0.5 * (1.0 - baseline)  # halfway from guessing to perfect
    if train >= bar or (test is not None and test >= bar):
        return None
    scores = f"{train:.3f} on training images" + (
        f" and {test:.3f} on the test set" if test is not None else ""
    )
    near = test is not None and test <= baseline + max(
        GAP / 2, NOISE_Z * math.sqrt(_variance(baseline, evaluated.test_images))
    )
    verdict = (
        "the test accuracy is no better than that: the model learned next to nothing"
        if near
        else f"both are below {bar:.2f}, halfway from that to perfect"
    )
    return Finding(
        "underfitting",
        f"Under-fitting: the evaluated weights score {scores}, against {baseline:.3f} for "
        f"{how}; {verdict}. Train longer, raise the learning rate, use a larger model or "
        "less regularisation.",
        evaluated.epoch,
    )


def _val_test_gap(row: Mapping, evaluated: Evaluated) -> Finding | None:
    """Validation accuracy of the evaluated epoch far from the test accuracy of the same weights."""
    val, test = row.get("val_accuracy"), evaluated.test_accuracy
    if val is None or test is None:
        return None
    if not apart(val, evaluated.val_images, test, evaluated.test_images):
        return None
    epoch = int(row["epoch"])
    sizes = (
        f" ({evaluated.val_images} validation, {evaluated.test_images} test images)"
        if evaluated.val_images and evaluated.test_images
        else ""
    )
    return Finding(
        "val_test_gap",
        f"Validation and test disagree: the weights of epoch {epoch} scored {val:.3f} on "
        f"validation but {test:.3f} on test{sizes}. The validation split (drawn from train) "
        "may not resemble the test split (another source, class balance or image "
        "preprocessing), or best.pt was picked on the noise of a small validation split; "
        "trust the test accuracy, enlarge data.val, and check how the test split was made.",
        epoch,
    )


def _summary(
    epochs: list[int], train: list[float], val: list[float | None], evaluated: Evaluated
) -> str:
    """How the losses moved (and what the evaluated weights scored), for the healthy finding."""
    text = f"training loss fell from {train[0]:.3f} to {train[-1]:.3f} over {len(epochs)} epochs"
    known = [(e, v) for e, v in zip(epochs, val, strict=True) if v is not None]
    if known:
        best_epoch, best = min(known, key=lambda pair: pair[1])
        text += f", validation loss reached {best:.3f} at epoch {best_epoch}"
    scores = [
        f"{score:.3f} on {where}"
        for score, where in (
            (evaluated.train_accuracy, "training images"),
            (evaluated.test_accuracy, "the test set"),
        )
        if score is not None
    ]
    if scores:
        text += f"; the evaluated weights score {' and '.join(scores)}"
    return text


def diagnose(
    rows: Sequence[Mapping[str, float | None]],
    num_classes: int | None = None,
    status: Mapping | None = None,
    evaluated: Evaluated | None = None,
) -> list[Finding]:
    """Findings from the metrics.csv rows, status.json and the evaluated weights' accuracies:
    what went wrong, or that nothing did."""
    status = status or {}
    evaluated = evaluated or Evaluated()
    diverged = _diverged(rows, status)
    rows = [row for row in rows if row.get("train_loss") is not None]
    if diverged:
        return [diverged]
    if not rows:
        return [Finding("empty", "No epoch finished yet: nothing to diagnose.")]
    epochs = [int(row["epoch"]) for row in rows]
    train = [float(v) for v in _column(rows, "train_loss")]
    val = _column(rows, "val_loss")
    # the evaluated accuracy, when measured, decides under-fitting instead of the running one
    accuracy = _column(rows, "train_accuracy") if evaluated.train_accuracy is None else []
    row = _evaluated_row(rows, evaluated.epoch)
    findings = [_train_gap(row, evaluated)]
    known = [i for i, v in enumerate(val) if v is not None and math.isfinite(v)]
    if len(known) >= 3:
        findings.append(
            _overfitting(
                [epochs[i] for i in known], [train[i] for i in known], [val[i] for i in known]
            )
        )
    findings.append(_generalisation_gap(evaluated))
    curves = _underfitting(epochs, train, val, accuracy, num_classes)
    findings.append(curves or _evaluated_underfitting(evaluated, num_classes))
    findings.append(_val_test_gap(row, evaluated))
    findings = [finding for finding in findings if finding is not None]
    if not any(finding.kind in WARNINGS for finding in findings):
        still = len(train) >= 3 and (train[-3] - train[-1]) >= PLATEAU * abs(train[-3])
        tail = "; the loss is still falling, so more epochs may help" if still else ""
        summary = _summary(epochs, train, val, evaluated)
        findings.insert(
            0,
            Finding(
                "healthy",
                f"Healthy run: {summary}; no sign of over- or under-fitting{tail}.",
            ),
        )
    if not known:
        findings.append(
            Finding(
                "no_validation",
                "No validation split: over-fitting cannot be read off the curves (set data.val).",
            )
        )
    return findings
