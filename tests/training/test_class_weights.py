"""data.class_weights: validated at the edge, resolved per class, and used by the training loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight

from cnnlab.config import load_experiments
from cnnlab.errors import ConfigError
from cnnlab.experiment.engine import train
from cnnlab.training import loop
from cnnlab.training.class_weights import resolve_class_weights

BASE = [
    "data.dataset=mnist-sample",
    "data.classes=[0,1,7]",
    "data.per_class=6",
    "data.offline=true",
    "model.name=conv1",
    "train.epochs=1",
    "train.batch_size=8",
    "train.device=cpu",
]


def config(tmp_path, *extra):
    return load_experiments(None, [*BASE, f"out={tmp_path}", *extra])[0]


def test_auto_is_sklearn_balanced_on_an_imbalanced_label_set():
    labels = np.array([0] * 90 + [1] * 10)
    weights = resolve_class_weights("auto", labels, 2)
    expected = compute_class_weight("balanced", classes=np.array([0, 1]), y=labels)
    np.testing.assert_allclose(weights, expected)
    np.testing.assert_allclose(weights, [100 / (2 * 90), 100 / (2 * 10)])


def test_auto_gives_a_class_without_images_weight_zero():
    weights = resolve_class_weights("auto", np.array([0, 0, 2]), 3)
    assert weights[1] == 0 and weights[0] > 0 and weights[2] > weights[0]


def test_none_and_explicit_weights():
    assert resolve_class_weights("none", np.array([0, 1]), 2) is None
    np.testing.assert_allclose(resolve_class_weights((1.0, 2.5), np.array([0, 1]), 2), [1, 2.5])


def test_a_list_of_the_wrong_length_names_the_class_count():
    with pytest.raises(ConfigError, match=r"data.class_weights: expected one weight per class \(3"):
        resolve_class_weights((1.0, 2.0), np.array([0, 1, 2]), 3)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("balanced", "one of none, auto"),
        ("[1,-2]", "positive finite"),
        ("[1,0]", "positive finite"),
        ("[1,.nan]", r"class_weights\[1\]: expected a finite number"),
        ("[1,.inf]", r"class_weights\[1\]: expected a finite number"),
        ("[]", "positive finite"),
    ],
)
def test_bad_class_weights_are_config_errors(tmp_path, value, match):
    with pytest.raises(ConfigError, match=match):
        config(tmp_path, f"data.class_weights={value}")


def test_wrong_count_fails_before_training(tmp_path):
    with pytest.raises(ConfigError, match=r"one weight per class \(3 classes\), got 2"):
        train(config(tmp_path, "data.class_weights=[1,2]"), quiet=True, report=False)


def loss_weights_seen(monkeypatch) -> list:
    """The class weights of the training loss at every step, filled as training runs."""
    seen = []
    original = loop.train_step

    def spy(context, images, labels):
        seen.append(context.criterion.weight)
        return original(context, images, labels)

    monkeypatch.setattr(loop, "train_step", spy)
    return seen


def test_weights_reach_the_training_loss_and_the_log(tmp_path, monkeypatch):
    seen = loss_weights_seen(monkeypatch)
    result = train(config(tmp_path, "data.class_weights=[1,2,0.5]"), quiet=True, report=False)
    assert seen and all(torch.equal(w, torch.tensor([1.0, 2.0, 0.5])) for w in seen)
    log = (result.run_dir / "train.log").read_text()
    assert "class weights: 0=1, 1=2, 7=0.5" in log and "sampler: balanced" not in log


def test_auto_weights_in_the_loss_match_the_training_labels(tmp_path, monkeypatch):
    seen = loss_weights_seen(monkeypatch)
    train(config(tmp_path, "data.class_weights=auto"), quiet=True, report=False)
    # per_class=6 on three classes: balanced, so every weight is 18 / (3 * 6) = 1
    assert seen and torch.allclose(seen[0], torch.ones(3))
