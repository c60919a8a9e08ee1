"""The diagnosis on hand-made metrics.csv rows: over-fitting epoch, under-fitting, divergence, health."""

from __future__ import annotations

import math

from cnnlab.report.diagnosis import Evaluated, apart, diagnose, smooth


def rows(train_loss, val_loss=None, train_accuracy=None):
    """metrics.csv rows as `read_csv_rows` returns them (floats, None for empty cells)."""
    count = len(train_loss)
    val_loss = val_loss or [None] * count
    train_accuracy = train_accuracy or [0.95] * count
    return [
        {
            "epoch": float(i + 1),
            "train_loss": t,
            "train_accuracy": a,
            "val_loss": v,
            "val_accuracy": None if v is None else 0.9,
            "lr": 1e-3,
            "epoch_seconds": 1.0,
        }
        for i, (t, v, a) in enumerate(zip(train_loss, val_loss, train_accuracy, strict=True))
    ]


FALLING = [1.0, 0.7, 0.5, 0.4, 0.32, 0.26, 0.21, 0.17, 0.14, 0.12]


def kinds(findings):
    return [finding.kind for finding in findings]


def test_overfitting_is_dated_at_the_validation_minimum():
    val = [1.0, 0.8, 0.6, 0.5, 0.45, 0.5, 0.58, 0.66, 0.75, 0.85]
    findings = diagnose(rows(FALLING, val), num_classes=3)
    assert kinds(findings) == ["overfitting"]
    assert findings[0].epoch == 5
    assert "Over-fitting from epoch 5" in findings[0].message
    assert "0.450" in findings[0].message and "0.850" in findings[0].message


def test_one_noisy_epoch_is_not_overfitting():
    bump = [1.0, 0.8, 0.95, 0.6, 0.5, 0.45, 0.42, 0.40, 0.39, 0.38]
    assert kinds(diagnose(rows(FALLING, bump), num_classes=3)) == ["healthy"]
    last_spike = [1.0, 0.8, 0.6, 0.5, 0.45, 0.44, 0.43, 0.42, 0.41, 0.7]
    assert kinds(diagnose(rows(FALLING, last_spike), num_classes=3)) == ["healthy"]


def test_rising_validation_loss_with_rising_training_loss_is_not_overfitting():
    train = [1.0, 0.7, 0.5, 0.4, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6]
    val = [1.0, 0.8, 0.6, 0.5, 0.45, 0.5, 0.58, 0.66, 0.75, 0.85]
    assert "overfitting" not in kinds(diagnose(rows(train, val), num_classes=3))


def test_underfitting_when_both_losses_plateau_high():
    train = [2.3, 2.1, 2.05, 2.03, 2.02, 2.02]
    val = [2.3, 2.15, 2.1, 2.08, 2.07, 2.07]
    findings = diagnose(rows(train, val, [0.6] * 6), num_classes=10)
    assert kinds(findings) == ["underfitting"]
    assert findings[0].epoch == 6
    assert f"{math.log(10):.3f}" in findings[0].message and "plateaued" in findings[0].message


def test_underfitting_when_training_accuracy_stays_low():
    accuracy = [0.2, 0.3, 0.35, 0.38]
    findings = diagnose(rows([1.0, 0.5, 0.3, 0.2], [1.0, 0.6, 0.4, 0.3], accuracy), num_classes=3)
    assert kinds(findings) == ["underfitting"]
    assert "training accuracy 0.380" in findings[0].message


def test_a_low_loss_is_not_high_for_many_classes():
    train = [1.2, 1.1, 1.08, 1.07]  # plateaued, but far below ln(100) / 2
    findings = diagnose(rows(train, [1.3, 1.2, 1.19, 1.18], [0.9] * 4), num_classes=100)
    assert kinds(findings) == ["healthy"]


def test_healthy_run_reports_its_best_validation_epoch():
    val = [1.0, 0.8, 0.6, 0.5, 0.45, 0.42, 0.40, 0.39, 0.385, 0.39]
    findings = diagnose(rows(FALLING, val), num_classes=3)
    assert kinds(findings) == ["healthy"]
    assert "Healthy run" in findings[0].message and "at epoch 9" in findings[0].message


def test_divergence_from_status_overrides_everything():
    status = {"status": "diverged", "epoch": 3, "iteration": 40}
    findings = diagnose(rows(FALLING[:2], [1.0, 0.8]), num_classes=3, status=status)
    assert kinds(findings) == ["diverged"]
    assert findings[0].epoch == 3 and "epoch 3 near iteration 40" in findings[0].message


def test_a_non_finite_loss_is_divergence_even_without_status():
    findings = diagnose(rows([1.0, 0.8, math.nan]), num_classes=3)
    assert kinds(findings) == ["diverged"] and findings[0].epoch == 3


def test_no_validation_split_is_said():
    findings = diagnose(rows(FALLING), num_classes=3)
    assert kinds(findings) == ["healthy", "no_validation"]
    assert kinds(diagnose(rows([1.0, 0.5, 0.0]), num_classes=3)) == ["healthy", "no_validation"]


def test_no_epochs():
    assert kinds(diagnose([], num_classes=3)) == ["empty"]


def test_smoothing_is_centred():
    np_values = smooth([3.0, 0.0, 3.0, 6.0])
    assert list(np_values) == [1.5, 2.0, 3.0, 4.5]


# -- the evaluated weights' accuracies ---------------------------------------------------------


def evaluated_rows(running=0.96, val_accuracy=0.9):
    """Five healthy-looking epochs (falling losses) whose running train accuracy ends at `running`."""
    table = rows(FALLING[:5], [1.0, 0.8, 0.6, 0.5, 0.45], [0.6, 0.8, 0.9, 0.94, running])
    for row in table:
        row["val_accuracy"] = val_accuracy
    return table


def test_the_reported_case_is_not_healthy():
    """Running 0.96, evaluated 0.72 on training images, 0.58 on test: the curves look fine."""
    table = evaluated_rows(running=0.96, val_accuracy=0.6)
    assert kinds(diagnose(table, num_classes=10)) == ["healthy"]  # the curves alone
    evaluated = Evaluated(
        train_accuracy=0.72, train_images=2048, test_accuracy=0.58, test_images=500, epoch=5
    )
    findings = diagnose(table, num_classes=10, evaluated=evaluated)
    assert "healthy" not in kinds(findings)
    assert kinds(findings) == ["train_gap", "overfitting"]
    gap, over = findings
    assert "0.720" in gap.message and "0.960" in gap.message and gap.epoch == 5
    assert "batch-norm" in gap.message and "dropout" in gap.message
    assert "augmentation" in gap.message
    assert "0.720 on training images but 0.580 on the test set" in over.message


def test_the_running_accuracy_of_the_evaluated_epoch_is_compared():
    table = evaluated_rows(running=0.96)
    table[2]["train_accuracy"] = 0.75  # best.pt is epoch 3, whose running accuracy was 0.75
    evaluated = Evaluated(train_accuracy=0.74, train_images=2048, test_accuracy=0.72, epoch=3)
    assert "train_gap" not in kinds(diagnose(table, num_classes=10, evaluated=evaluated))
    latest = Evaluated(train_accuracy=0.74, train_images=2048, test_accuracy=0.72)
    assert "train_gap" in kinds(diagnose(table, num_classes=10, evaluated=latest))


def test_evaluated_weights_above_the_running_figure_are_a_note():
    evaluated = Evaluated(train_accuracy=0.99, train_images=2048, test_accuracy=0.97, epoch=5)
    findings = diagnose(evaluated_rows(running=0.80), num_classes=10, evaluated=evaluated)
    assert kinds(findings) == ["healthy", "note"]
    assert "0.990" in findings[0].message and "0.970 on the test set" in findings[0].message


def test_a_gap_within_sampling_noise_is_not_a_finding():
    evaluated = Evaluated(train_accuracy=0.9, train_images=20, test_accuracy=0.7, test_images=15)
    assert kinds(diagnose(evaluated_rows(0.9), num_classes=3, evaluated=evaluated)) == ["healthy"]
    evaluated = Evaluated(
        train_accuracy=0.9, train_images=2000, test_accuracy=0.7, test_images=1500
    )
    assert "overfitting" in kinds(diagnose(evaluated_rows(0.9), num_classes=3, evaluated=evaluated))


def test_underfitting_from_evaluated_accuracies_against_the_majority_class():
    # the running accuracy says 0.96, but the evaluated weights only find the common class
    table = evaluated_rows(running=0.96, val_accuracy=0.5)
    evaluated = Evaluated(
        train_accuracy=0.52, train_images=2048, test_accuracy=0.5, test_images=400, majority=0.5
    )
    findings = diagnose(table, num_classes=4, evaluated=evaluated)
    assert "underfitting" in kinds(findings) and "healthy" not in kinds(findings)
    message = next(f.message for f in findings if f.kind == "underfitting")
    assert "0.500 for always predicting the most common test class" in message
    assert "learned next to nothing" in message


def test_evaluated_accuracy_high_is_not_underfitting_despite_a_low_running_one():
    table = evaluated_rows(running=0.3)
    table[3]["train_accuracy"] = 0.3  # a low running accuracy alone says under-fitting
    assert "underfitting" in kinds(diagnose(table, num_classes=3))
    evaluated = Evaluated(train_accuracy=0.95, train_images=500, test_accuracy=0.93, epoch=5)
    assert "underfitting" not in kinds(diagnose(table, num_classes=3, evaluated=evaluated))


def test_validation_and_test_disagreement():
    evaluated = Evaluated(
        train_accuracy=0.93, train_images=2048, test_accuracy=0.7, test_images=1000,
        val_images=1000, epoch=5,
    )  # fmt: skip
    findings = diagnose(
        evaluated_rows(0.93, val_accuracy=0.92), num_classes=10, evaluated=evaluated
    )
    assert "val_test_gap" in kinds(findings)
    message = next(f.message for f in findings if f.kind == "val_test_gap")
    assert "0.920 on validation but 0.700 on test (1000 validation, 1000 test images)" in message
    small = Evaluated(train_accuracy=0.93, test_accuracy=0.8, test_images=30, val_images=9)
    findings = diagnose(evaluated_rows(0.93, val_accuracy=0.95), num_classes=10, evaluated=small)
    assert "val_test_gap" not in kinds(findings)


def test_apart_needs_both_the_gap_and_more_than_noise():
    assert apart(0.9, None, 0.75, None) and not apart(0.9, None, 0.82, None)
    assert not apart(0.9, 10, 0.7, 10)  # 0.2 apart, but 10 images each is noise
