"""The NumPy metrics equal scikit-learn's on random, tied and degenerate inputs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics as sk
from sklearn.preprocessing import label_binarize

from cnnlab.evaluate import classification as ours
from cnnlab.evaluate.metrics import compute_metrics, roc_curves


def _cases():
    rng = np.random.default_rng(0)
    for seed in range(12):
        rng = np.random.default_rng(seed)
        n, k = int(rng.integers(1, 60)), int(rng.integers(2, 7))
        y = rng.integers(0, k, n)
        if seed % 3 == 0:  # coarse scores: many ties
            scores = rng.integers(0, 4, (n, k)).astype(np.float64)
        else:
            scores = rng.random((n, k))
        if seed % 4 == 1:  # one class never true
            y = np.where(y == k - 1, 0, y)
        yield pytest.param(y, scores, k, id=f"seed{seed}-n{n}-k{k}")


CASES = list(_cases())


@pytest.mark.parametrize(("y", "scores", "k"), CASES)
def test_counts_match_sklearn(y, scores, k):
    predicted = scores.argmax(axis=1)
    labels = np.arange(k)
    matrix = ours.confusion_matrix(y, predicted, k)
    np.testing.assert_array_equal(matrix, sk.confusion_matrix(y, predicted, labels=labels))
    precision, recall, f1, support = ours.precision_recall_f1(matrix)
    expected = sk.precision_recall_fscore_support(y, predicted, labels=labels, zero_division=0)
    for mine, theirs in zip((precision, recall, f1, support), expected, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=0)
    for average in ("macro", "weighted"):
        theirs = sk.precision_recall_fscore_support(
            y, predicted, labels=labels, average=average, zero_division=0
        )
        for values, value in zip((precision, recall, f1), theirs[:3], strict=True):
            assert ours.averaged(values, support, average) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(("y", "scores", "k"), CASES)
def test_top_k_matches_sklearn(y, scores, k):
    for top in range(2, k):  # k = 1 is the accuracy (and sklearn wants 1-D scores when K = 2)
        theirs = sk.top_k_accuracy_score(y, scores, k=top, labels=np.arange(k))
        assert ours.top_k_accuracy(y, scores, top) == pytest.approx(theirs, rel=1e-12)


@pytest.mark.parametrize(("y", "scores", "k"), CASES)
def test_roc_matches_sklearn(y, scores, k):
    for c in range(k):
        positive = (y == c).astype(int)
        if 0 < positive.sum() < len(positive):
            fpr, tpr = ours.roc_curve(positive, scores[:, c])
            their_fpr, their_tpr, _ = sk.roc_curve(positive, scores[:, c])
            np.testing.assert_allclose(fpr, their_fpr, rtol=1e-12)
            np.testing.assert_allclose(tpr, their_tpr, rtol=1e-12)
            theirs = sk.roc_auc_score(positive, scores[:, c])
            assert ours.roc_auc(positive, scores[:, c]) == pytest.approx(theirs, rel=1e-12)


def test_tied_scores_count_half():
    assert ours.roc_auc([0, 1], [0.5, 0.5]) == 0.5
    assert ours.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


@pytest.mark.parametrize(("y", "scores", "k"), CASES[:6])
def test_compute_metrics_matches_sklearn(y, scores, k):
    probabilities = scores / scores.sum(axis=1, keepdims=True).clip(min=1e-12)
    probabilities = np.where(probabilities.sum(axis=1, keepdims=True) > 0, probabilities, 1 / k)
    names = [f"c{i}" for i in range(k)]
    result = compute_metrics(y, probabilities, names)
    predicted = probabilities.argmax(axis=1)
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted))
    theirs = sk.precision_recall_fscore_support(
        y, predicted, labels=np.arange(k), average="macro", zero_division=0
    )
    assert result["f1_macro"] == pytest.approx(theirs[2], rel=1e-12)
    indicator = label_binarize(y, classes=np.arange(k))
    if k == 2:
        indicator = np.hstack([1 - indicator, indicator])
    assert result["auc_micro"] == pytest.approx(
        sk.roc_auc_score(indicator, probabilities, average="micro"), rel=1e-12
    )
    curves = roc_curves(y, probabilities)
    assert curves["micro"][2] == result["auc_micro"]


def test_metrics_do_not_import_sklearn():
    """Fresh interpreter: computing metrics and ROC curves leaves scikit-learn unimported."""
    code = (
        "import sys, numpy as np\n"
        "from cnnlab.evaluate.metrics import compute_metrics, roc_curves\n"
        "p = np.random.default_rng(0).random((20, 3)); p /= p.sum(1, keepdims=True)\n"
        "y = np.arange(20) % 3\n"
        "compute_metrics(y, p, ['a', 'b', 'c']); roc_curves(y, p)\n"
        "print('sklearn' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
