"""The sweep's results.md and figures: per-epoch accuracy, aligned columns, time unit, failure
reasons in full, categorical figures with every label inside."""

from __future__ import annotations

import csv

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from cnnlab.sweep import run_sweep, spec_from_dict
from cnnlab.sweep.figures import metric_figure
from cnnlab.sweep.table import markdown_table

TINY = {
    "data": {"dataset": "mnist-sample", "classes": [0, 1], "per_class": 8, "offline": True},
    "model": {"name": "fc_only"},
    "train": {"epochs": 2, "batch_size": 8, "device": "cpu"},
}
LONG = "a-very-long-model-name-that-overflows-a-column"


def section(markdown: str, title: str) -> list[str]:
    """The lines of the table under `## title`."""
    lines = markdown.splitlines()
    start = lines.index(f"## {title}")
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            table.append(line)
    return table


def test_per_epoch_test_accuracy_table_and_figure(tmp_path):
    base = {**TINY, "train": {**TINY["train"], "watch_test": True}}
    spec = spec_from_dict(
        {"name": "ep", "base": base, "grid": {"model.name": ["fc_only", "conv1"]}, "seeds": 2}
    )
    result = run_sweep(spec, tmp_path, report=False)
    markdown = result.markdown_path.read_text(encoding="utf-8")
    assert "test accuracy after each epoch (recorded with train.watch_test) (mean over seeds)" in (
        markdown
    )
    header, _, *rows = section(markdown, "Per-epoch test accuracy")
    assert header.split("|")[1:-1] == [" variant \\ epoch ", " 1      ", " 2      "]
    assert [row.split("|")[1].strip() for row in rows] == ["model=fc_only", "model=conv1"]
    for row, run in zip(rows, ("model=fc_only,seed=0", "model=conv1,seed=0"), strict=True):
        with open(tmp_path / "ep" / "runs" / run / "metrics.csv", newline="") as stream:
            first_seed = [float(r["test_accuracy"]) for r in csv.DictReader(stream)]
        run1 = run.replace("seed=0", "seed=1")
        with open(tmp_path / "ep" / "runs" / run1 / "metrics.csv", newline="") as stream:
            second_seed = [float(r["test_accuracy"]) for r in csv.DictReader(stream)]
        mean = [(a + b) / 2 for a, b in zip(first_seed, second_seed, strict=True)]
        assert [float(c) for c in row.split("|")[2:-1]] == [round(m, 4) for m in mean]
    assert "epoch_accuracy.png" in [p.name for p in result.figures]


def test_per_epoch_table_falls_back_to_training_accuracy_and_says_so(tmp_path):
    spec = spec_from_dict({"name": "tr", "base": TINY, "grid": {"optim.lr": [0.01]}})
    markdown = run_sweep(spec, tmp_path, report=False).markdown_path.read_text(encoding="utf-8")
    assert "## Per-epoch train accuracy" in markdown
    assert "training accuracy of each epoch, measured while the weights moved" in markdown


def test_columns_align_on_a_long_name_and_time_has_its_unit(tmp_path):
    table = markdown_table([["model", "time (s)"], [LONG, 1.5], ["conv1", None]])
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1  # every line as wide as the widest cell
    assert [line.index("|", 2) for line in lines] == [len(LONG) + 3] * 4  # header, rule, 2 rows
    spec = spec_from_dict({"name": "t", "base": TINY, "grid": {"model.name": ["fc_only"]}})
    result = run_sweep(spec, tmp_path, report=False)
    runs = section(result.markdown_path.read_text(encoding="utf-8"), "Runs")
    assert "| time (s) |" in runs[0]
    assert len({len(line) for line in runs}) == 1
    with open(result.csv_path, newline="") as stream:
        (row,) = csv.DictReader(stream)
    assert float(row["time_s"]) > 0


def test_a_long_failure_reason_is_shown_in_full_below_the_table(tmp_path, sweep_run_fails_at):
    reason = "the data loader gave up. " * 20 + "This last sentence must survive."
    sweep_run_fails_at(0.5, ValueError(reason))
    spec = spec_from_dict({"name": "f", "base": TINY, "grid": {"optim.lr": [0.5, 0.01]}})
    result = run_sweep(spec, tmp_path, report=False)
    markdown = result.markdown_path.read_text(encoding="utf-8")
    runs = section(markdown, "Runs")
    assert "| failed (1)" in runs[2] and "gave up" not in "".join(runs)
    assert f"1. lr=0.5,seed=0: {reason.strip()}" in markdown
    assert result.rows[0]["status"] == f"failed: {reason.strip()}"


def test_categorical_figure_draws_bars_with_every_label_inside(tmp_path):
    names = ["fc_only", LONG, "conv1"]
    spec = spec_from_dict(
        {
            "name": "cat",
            "base": TINY,
            "grid": {"model.name": names, "optim.optimizer": ["sgd", "adam"]},
        }
    )
    rows = [
        {"model.name": n, "optim.optimizer": o, "test_accuracy": 0.5 + i / 10, "status": "finished"}
        for i, n in enumerate(names)
        for o in ("sgd", "adam")
    ]
    figure = metric_figure(spec, rows, "test_accuracy")  # x: the first key, no numeric one
    (axes,) = figure.axes
    assert not axes.lines and len(axes.patches) == 6  # bars, never a line through names
    assert [t.get_text() for t in axes.get_xticklabels()] == names
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    box = figure.bbox
    renderer = canvas.get_renderer()
    for label in [*axes.get_xticklabels(), axes.xaxis.label, axes.title]:
        extent = label.get_window_extent(renderer)
        assert extent.x0 >= box.x0 - 1 and extent.x1 <= box.x1 + 1, label.get_text()
        assert extent.y0 >= box.y0 - 1 and extent.y1 <= box.y1 + 1, label.get_text()
    assert np.isfinite([p.get_height() for p in axes.patches]).all()
