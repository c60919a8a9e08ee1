"""compute_metrics / roc_curves on hand-built predictions: hand-computed and published values."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score, top_k_accuracy_score
from sklearn.preprocessing import label_binarize

from cnnlab.errors import DataFormatError
from cnnlab.evaluate import compute_metrics, normalize_confusion, roc_curves, sample_losses

NAMES3 = ("cat", "dog", "pig")


def probabilities_for(predicted, num_classes, high=0.6):
    """Rows with `high` on the predicted class and the rest spread evenly: (N, K)."""
    predicted = np.asarray(predicted)
    low = (1 - high) / (num_classes - 1)
    probs = np.full((len(predicted), num_classes), low)
    probs[np.arange(len(predicted)), predicted] = high
    return probs


def test_perfect_classifier_has_auc_one_and_a_diagonal_confusion_matrix():
    y = np.array([0, 1, 2, 3, 0, 1, 2, 3, 3])
    metrics = compute_metrics(y, probabilities_for(y, 4, high=0.7), ["a", "b", "c", "d"])
    assert metrics["accuracy"] == 1.0
    assert metrics["auc_micro"] == 1.0 and metrics["auc_macro"] == 1.0
    assert [row["auc"] for row in metrics["per_class"]] == [1.0] * 4
    np.testing.assert_array_equal(metrics["confusion_matrix"], np.diag([2, 2, 2, 3]))
    np.testing.assert_array_equal(normalize_confusion(metrics["confusion_matrix"]), np.eye(4))
    assert metrics["most_confused"] == []
    assert metrics["f1_macro"] == metrics["f1_weighted"] == 1.0
    curves = roc_curves(y, probabilities_for(y, 4, high=0.7))
    assert set(curves) == {0, 1, 2, 3, "micro", "macro"}
    for fpr, tpr, auc in curves.values():
        assert auc == 1.0 and fpr[-1] == tpr[-1] == 1.0 and fpr[0] == 0.0
        assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_three_class_case_computed_by_hand():
    # true 0,0,0 predicted 0,1,0; true 1,1 predicted 1,2; true 2 predicted 2
    y = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 0, 1, 2, 2])
    metrics = compute_metrics(y, probabilities_for(predicted, 3), NAMES3)
    # confusion [[2,1,0],[0,1,1],[0,0,1]]: precision 1, 1/2, 1/2; recall 2/3, 1/2, 1;
    # F1 4/5, 1/2, 2/3; supports 3, 2, 1.
    assert metrics["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    per_class = metrics["per_class"]
    assert [r["precision"] for r in per_class] == pytest.approx([1, 1 / 2, 1 / 2])
    assert [r["recall"] for r in per_class] == pytest.approx([2 / 3, 1 / 2, 1])
    assert [r["f1"] for r in per_class] == pytest.approx([4 / 5, 1 / 2, 2 / 3])
    assert [r["support"] for r in per_class] == [3, 2, 1]
    expected = {
        "accuracy": Fraction(4, 6),
        "precision_macro": Fraction(2, 3),  # (1 + 1/2 + 1/2) / 3
        "recall_macro": Fraction(13, 18),  # (2/3 + 1/2 + 1) / 3
        "f1_macro": Fraction(59, 90),  # (4/5 + 1/2 + 2/3) / 3
        "precision_weighted": Fraction(3, 4),  # (3*1 + 2*1/2 + 1*1/2) / 6
        "recall_weighted": Fraction(2, 3),  # equals the accuracy
        "f1_weighted": Fraction(61, 90),  # (3*4/5 + 2*1/2 + 1*2/3) / 6
    }
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(float(value), abs=1e-12), key
    # class 0 scores: true-0 rows 0.6, 0.2, 0.6 against 0.2, 0.2, 0.2: 6 wins + 3 ties of 9
    assert per_class[0]["auc"] == pytest.approx(7.5 / 9)
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["num_samples"] == 6
    assert metrics["most_confused"] == [
        {"true": "cat", "predicted": "dog", "count": 1},
        {"true": "dog", "predicted": "pig", "count": 1},
    ]


def test_published_scikit_learn_examples():
    # precision_recall_fscore_support docs: macro (0.22, 0.33, 0.27)
    y = np.array([0, 1, 2, 0, 1, 2])  # cat dog pig cat dog pig
    predicted = np.array([0, 2, 1, 0, 0, 1])  # cat pig dog cat cat dog
    metrics = compute_metrics(y, probabilities_for(predicted, 3), NAMES3)
    assert metrics["precision_macro"] == pytest.approx(2 / 9)
    assert metrics["recall_macro"] == pytest.approx(1 / 3)
    assert metrics["f1_macro"] == pytest.approx(4 / 15)
    assert (round(metrics["precision_weighted"], 2), round(metrics["f1_weighted"], 2)) == (
        0.22,
        0.27,
    )
    # top_k_accuracy_score docs: k=2 gives 0.75 (4 classes here so that k=3 is reported too)
    scores = np.array([[0.5, 0.2, 0.2, 0.1], [0.3, 0.4, 0.2, 0.1], [0.2, 0.4, 0.3, 0.1],
                       [0.7, 0.2, 0.1, 0.0]])  # fmt: skip
    top = compute_metrics(np.array([0, 1, 2, 2]), scores, list("abcd"))["top_k"]
    assert top == {"1": 0.5, "3": 1.0}
    assert top_k_accuracy_score([0, 1, 2, 2], scores, k=2, labels=range(4)) == 0.75
    # roc_auc_score docs: y [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8] gives 0.75
    s = np.array([0.1, 0.4, 0.35, 0.8])
    binary = compute_metrics(np.array([0, 0, 1, 1]), np.stack([1 - s, s], axis=1), ["no", "yes"])
    assert [row["auc"] for row in binary["per_class"]] == [0.75, 0.75]
    assert binary["auc_macro"] == 0.75 and binary["top_k"] == {
        "1": 0.75
    }  # 0.1, 0.4, 0.35 -> no; 0.8 -> yes


def test_random_predictions_match_scikit_learn_reference_calls():
    rng = np.random.default_rng(0)
    K, N = 6, 200
    logits = rng.normal(size=(N, K)) + 2 * np.eye(K)[rng.integers(0, K, N)]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.where(rng.random(N) < 0.6, probs.argmax(axis=1), rng.integers(0, K, N))
    metrics = compute_metrics(y, probs, [f"c{k}" for k in range(K)])
    assert metrics["auc_macro"] == pytest.approx(roc_auc_score(y, probs, multi_class="ovr"))
    micro = roc_auc_score(label_binarize(y, classes=range(K)), probs, average="micro")
    assert metrics["auc_micro"] == pytest.approx(micro)
    assert metrics["f1_macro"] == pytest.approx(f1_score(y, probs.argmax(1), average="macro"))
    for k in (3, 5):
        assert metrics["top_k"][str(k)] == top_k_accuracy_score(y, probs, k=k)
    # top-k by hand: the true class among the k largest probabilities
    ranks = (probs > probs[np.arange(N), y][:, None]).sum(axis=1)  # classes scored higher
    assert metrics["top_k"]["3"] == np.mean(ranks < 3)
    assert sum(map(sum, metrics["confusion_matrix"])) == N
    curves = roc_curves(y, probs)
    assert curves["micro"][2] == metrics["auc_micro"]
    assert curves["macro"][2] == metrics["auc_macro"]
    assert metrics["top_k"].keys() == {"1", "3", "5"}


def test_a_class_absent_from_y_true_gives_null_auc_not_a_crash():
    y = np.array([0, 0, 1, 1, 0])  # class 2 never occurs
    probs = probabilities_for([0, 1, 1, 1, 2], 3)
    metrics = compute_metrics(y, probs, NAMES3)
    pig = metrics["per_class"][2]
    assert pig["auc"] is None and pig["support"] == 0 and pig["recall"] == 0.0
    assert pig["precision"] == 0.0  # predicted once, never right
    assert metrics["auc_macro"] is None  # documented: undefined when a class has no AUC
    assert isinstance(metrics["auc_micro"], float) and 0 < metrics["auc_micro"] < 1
    assert metrics["per_class"][0]["auc"] is not None
    json.dumps(metrics, allow_nan=False)  # no NaN slips into metrics.json
    curves = roc_curves(y, probs)
    assert set(curves) == {0, 1, "micro", "macro"} and curves["macro"][2] is None


def test_highest_loss_and_losses():
    y = np.array([0, 1, 2, 1])
    probs = np.array([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.0, 1.0, 0.0], [0.2, 0.7, 0.1]])
    losses = sample_losses(y, probs)
    np.testing.assert_allclose(losses, [-np.log(0.9), -np.log(0.1), -np.log(1e-12), -np.log(0.7)])
    top = compute_metrics(y, probs, NAMES3)["highest_loss"]
    assert [row["id"] for row in top] == [2, 1, 3, 0]
    assert top[0] == {"id": 2, "true": "pig", "predicted": "dog", "confidence": 1.0,
                      "loss": pytest.approx(-np.log(1e-12))}  # fmt: skip
    assert top[1]["predicted"] == "cat" and top[1]["confidence"] == 0.8


def test_most_confused_is_sorted_by_count_and_capped_at_ten():
    K = 12
    y = np.repeat(np.arange(K), 3)  # each class 3 times
    predicted = (y + 1) % K  # every image confused with the next class
    predicted[:2] = 0  # class 0: two right, one confused with class 1
    metrics = compute_metrics(y, probabilities_for(predicted, K), [str(k) for k in range(K)])
    pairs = metrics["most_confused"]
    assert len(pairs) == 10
    assert pairs[0] == {"true": "1", "predicted": "2", "count": 3}
    assert [p["count"] for p in pairs] == sorted((p["count"] for p in pairs), reverse=True)


def test_normalize_confusion_keeps_an_empty_row_at_zero():
    matrix = np.array([[3, 1], [0, 0]])
    np.testing.assert_array_equal(normalize_confusion(matrix), [[0.75, 0.25], [0.0, 0.0]])


@pytest.mark.parametrize(
    ("y", "probs", "match"),
    [
        (np.array([0, 1]), np.ones((2, 2)) / 2, r"shape \(N, 3\)"),
        (np.array([0, 1, 2]), np.ones((2, 3)) / 3, r"y_true must have shape \(2,\)"),
        (np.array([0, 3]), np.ones((2, 3)) / 3, r"outside 0..2"),
        (np.array([0.0, 1.0]), np.ones((2, 3)) / 3, "integer class indices"),
        (np.array([], dtype=int), np.ones((0, 3)), "at least one image"),
        (np.array([0, 1]), np.full((2, 3), np.nan), "NaN"),
    ],
)
def test_bad_inputs_are_refused_with_a_clear_message(y, probs, match):
    with pytest.raises(DataFormatError, match=match):
        compute_metrics(y, probs, NAMES3)


def test_balanced_accuracy_is_the_mean_recall_on_an_imbalanced_test_set():
    from sklearn.metrics import balanced_accuracy_score

    # 90 of class 0 (all right) and 10 of class 1 (3 right): accuracy 0.93, balanced 0.65
    y = np.array([0] * 90 + [1] * 10)
    predicted = np.array([0] * 90 + [1] * 3 + [0] * 7)
    metrics = compute_metrics(y, probabilities_for(predicted, 2), ["major", "minor"])
    assert metrics["accuracy"] == pytest.approx(0.93)
    assert metrics["balanced_accuracy"] == pytest.approx(0.65)
    assert [c["recall"] for c in metrics["per_class"]] == pytest.approx([1.0, 0.3])
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, predicted))
    # a class absent from y_true is left out of the mean, as scikit-learn does
    y3, p3 = np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1])
    absent = compute_metrics(y3, probabilities_for(p3, 3), NAMES3)
    assert absent["balanced_accuracy"] == pytest.approx(0.75)
