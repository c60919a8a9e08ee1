"""predictions.csv: the leaderboard columns, quoting of odd class names, round trip, bad files."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from cnnlab.errors import DataFormatError
from cnnlab.runs.predictions import read_predictions, write_predictions

ODD_NAMES = ("plain", "with, comma", 'say "hi"', "two\nlines", "ünïcode ☃")


def random_probabilities(N, K, seed=0):
    p = np.random.default_rng(seed).random((N, K))
    return p / p.sum(axis=1, keepdims=True)


def test_round_trip_with_commas_quotes_and_newlines_in_class_names(tmp_path):
    probs = random_probabilities(7, len(ODD_NAMES))
    y_true = np.array([0, 1, 2, 3, 4, 1, 2])
    path = write_predictions(tmp_path / "predictions.csv", list(range(7)), probs, ODD_NAMES, y_true)
    back = read_predictions(path)
    assert back.class_names == ODD_NAMES
    assert back.ids == tuple(range(7))
    np.testing.assert_array_equal(back.predicted, probs.argmax(axis=1))
    np.testing.assert_array_equal(back.y_true, y_true)
    rounded = np.array([[float(f"{p:.6f}") for p in row] for row in probs])
    np.testing.assert_array_equal(back.probabilities, rounded)
    assert back.has_true_labels
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    assert rows[0][:3] == ["id", "label", "true_label"]
    assert rows[0][3:] == [f"prob_{name}" for name in ODD_NAMES]
    assert rows[1][1] == ODD_NAMES[probs[0].argmax()] and len(rows) == 8
    assert all(len(cell.split(".")[1]) == 6 for row in rows[1:] for cell in row[3:])


def test_file_ids_and_unknown_true_labels(tmp_path):
    probs = random_probabilities(3, 2, seed=1)
    ids = ["a.png", "sub/b 1.png", "7.png"]
    path = write_predictions(tmp_path / "p.csv", ids, probs, ("no", "yes"))
    back = read_predictions(path)
    assert back.ids == tuple(ids)
    np.testing.assert_array_equal(back.y_true, [-1, -1, -1])
    assert not back.has_true_labels
    lines = path.read_text().splitlines()
    assert lines[1].split(",")[2] == ""  # true_label left empty


def test_a_rewritten_file_round_trips_to_the_same_text(tmp_path):
    probs = random_probabilities(5, 3, seed=2)
    first = write_predictions(
        tmp_path / "a.csv", list(range(5)), probs, ("x", "y", "z"), np.arange(5) % 3
    )
    back = read_predictions(first)
    second = write_predictions(
        tmp_path / "b.csv", list(back.ids), back.probabilities, back.class_names, back.y_true
    )
    assert first.read_text() == second.read_text()


def test_mismatched_shapes_are_refused(tmp_path):
    with pytest.raises(DataFormatError, match=r"shape \(2, 3\) for 2 ids and 3 classes"):
        write_predictions(tmp_path / "p.csv", [0, 1], np.ones((2, 2)), ("a", "b", "c"))
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("idx,label\n", "header starting with id,label,true_label"),
        ("id,label,true_label,p_a\n", "must start with 'prob_'"),
        ("id,label,true_label,prob_a,prob_b\n0,c,,0.5,0.5\n", r"line 2: label 'c' is not one of"),
        ("id,label,true_label,prob_a,prob_b\n0,a,b,0.5\n", "line 2: 4 fields, expected 5"),
        (
            "id,label,true_label,prob_a,prob_b\n0,a,b,0.5,x\n",
            "line 2: a probability is not a number",
        ),
    ],
)
def test_malformed_files_name_the_line_and_the_problem(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=match):
        read_predictions(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DataFormatError, match="nothing.csv does not exist"):
        read_predictions(tmp_path / "nothing.csv")
