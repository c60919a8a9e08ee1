"""Notebook support without a kernel: notebook detection, progress decision, HTML tables, figures."""

from __future__ import annotations

import base64
import io
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cnnlab
from cnnlab.config import load_experiments
from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.experiment import RunResult
from cnnlab.experiment import engine as experiment
from cnnlab.experiment.results import results_markdown, runs_table
from cnnlab.htmltable import html_table
from cnnlab.models import Summary, build_model, format_summary, summarize, summary_table
from cnnlab.training.loop import History
from cnnlab.training.progress import in_notebook, progress_mode
from cnnlab.visualize.gallery import show_figures


class Stream(io.StringIO):
    """A text stream that says whether it is a terminal."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def fake_ipython(monkeypatch, config: dict | None) -> None:
    """An `IPython` module whose shell has `config` (None: no shell running)."""
    shell = None if config is None else types.SimpleNamespace(config=config)
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", module)


# --- where are we: notebook or terminal ------------------------------------------------------


def test_no_ipython_imported_is_not_a_notebook(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not in_notebook()


@pytest.mark.parametrize(
    ("config", "expected"),
    [({"IPKernelApp": {"connection_file": "k.json"}}, True), ({"TerminalIPythonApp": {}}, False), (None, False)],
    ids=["jupyter-kernel", "ipython-terminal", "no-shell"],
)  # fmt: skip
def test_notebook_means_a_jupyter_kernel(monkeypatch, config, expected):
    fake_ipython(monkeypatch, config)
    assert in_notebook() is expected


@pytest.mark.parametrize(
    ("quiet", "tty", "kernel", "expected"),
    [
        (False, True, False, "bar"),  # a terminal
        (False, False, False, "lines"),  # piped to a file or a CI log: a line now and then
        (False, False, True, "bar"),  # a notebook: stderr is no TTY, yet a bar is wanted
        (True, True, False, None),  # --quiet wins in a terminal
        (True, False, True, None),  # in a notebook
        (True, False, False, None),  # and in a pipe
    ],
)
def test_progress_mode(monkeypatch, quiet, tty, kernel, expected):
    fake_ipython(monkeypatch, {"IPKernelApp": {}} if kernel else {})
    assert progress_mode(quiet, Stream(tty)) == expected


def test_training_in_a_notebook_asks_the_loop_for_a_bar(tmp_path, monkeypatch):
    seen = []
    real_fit = experiment.fit

    def spy(*args, **kwargs):
        seen.append(kwargs["progress"])
        return real_fit(*args, **{**kwargs, "progress": None})  # no bar drawn in the test

    monkeypatch.setattr(experiment, "fit", spy)
    fake_ipython(monkeypatch, {"IPKernelApp": {}})
    base = [
        "data.dataset=mnist-sample", "data.classes=[0,1]", "data.per_class=4",
        "data.offline=true", "model.name=fc_only", "train.epochs=1", "train.device=cpu",
        f"out={tmp_path}",
    ]  # fmt: skip
    for quiet in (False, True):
        (config,) = load_experiments(None, [*base, f"name=q{quiet}"])
        experiment.train(config, quiet=quiet, report=False)  # figures need no notebook
    assert seen == ["bar", None]


# --- tables ------------------------------------------------------------------------------------


def test_html_table_escapes_and_aligns():
    text = html_table(["name", "n"], [["<b>&", 3]], numeric=[False, True], caption="a<b")
    assert "&lt;b&gt;&amp;" in text and "<b>&" not in text
    assert "<caption>a&lt;b</caption>" in text
    assert '<td style="text-align:right">3</td>' in text
    assert '<th style="text-align:left">name</th>' in text


def result(name: str, test: float | None = 0.95) -> RunResult:
    epochs = [{"epoch": e, "train_accuracy": 0.98} for e in (1, 2, 3)]
    history = History(epochs=epochs, best_epoch=2, stopped="finished")
    metrics = {"final_train_accuracy": 1.0, "train_seconds": 12.34}
    if test is not None:
        metrics.update(test_accuracy=test, test_balanced_accuracy=0.875, test_f1=0.9)
    config = load_experiments(None, ["model.name=conv1", f"name={name}"])[0]
    return RunResult(Path("runs") / name, "finished", history, metrics, config)


def test_run_result_renders_its_key_metrics():
    html = result("demo")._repr_html_()
    assert "<caption>" + str(Path("runs") / "demo") + "</caption>" in html
    cells = [
        "demo", "conv1", "finished", "3", "2", "0.9800", "1.0000", "0.9500", "0.8750", "0.9000",
        "12.3s",
    ]  # fmt: skip
    assert all(f">{cell}</td>" in html for cell in cells)
    assert result("demo")._repr_markdown_().splitlines()[-1] == "| " + " | ".join(cells) + " |"
    assert "history" not in repr(result("demo"))  # the long history stays out of the text form


def test_runs_table_has_one_row_per_run_and_dashes_for_missing():
    table = runs_table([result("a"), result("b", test=None)])
    assert table._repr_html_().count("<tr>") == 3  # header and two runs
    lines = str(table).splitlines()
    assert len(lines) == 4 and lines[1].startswith("| --- |")
    assert lines[3].split(" | ")[7:10] == ["-", "-", "-"]  # test acc, bal acc, F1: untested
    assert str(table) == results_markdown(table.results)


def test_summary_table_matches_the_text_summary():
    model = build_model("conv1", (1, 28, 28), 3)
    summary = summary_table(model, (1, 28, 28))
    assert isinstance(summary, Summary)
    rows = summarize(model, (1, 28, 28))
    assert str(summary) == repr(summary) == format_summary(rows)
    assert summary.params == sum(p.numel() for p in model.parameters()) == 320 + 6272 * 3 + 3
    assert summary.macs == 32 * 28 * 28 * 9 + 6272 * 3
    html = summary._repr_html_()
    assert "<caption>Sequential on a 1x28x28 image</caption>" in html
    assert all(f">{row.name}</td>" in html for row in rows)
    assert ">19,139</td>" in html and "parameters: 19,139" in html


def test_lazy_names_reach_the_notebook_helpers():
    assert cnnlab.summary_table is summary_table
    assert cnnlab.runs_table is runs_table
    assert cnnlab.show_figures is show_figures


# --- figures -----------------------------------------------------------------------------------


def write_png(path: Path, value: int) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 6, 3), value, np.uint8)).save(path)
    return path.read_bytes()


def test_show_figures_embeds_the_pngs_in_writeup_order(tmp_path):
    figures = tmp_path / "run" / "figures"
    data = {
        name: write_png(figures / f"{name}.png", k) for k, name in enumerate(["zz", "roc", "loss"])
    }
    (figures / "loss.svg").write_text("<svg/>")  # vector copies are not shown twice
    gallery = show_figures(tmp_path / "run")
    assert [p.stem for p in gallery.paths] == ["loss", "roc", "zz"]
    html = gallery._repr_html_()
    encoded = [base64.b64encode(data[n]).decode() for n in ("loss", "roc", "zz")]
    positions = [html.index(f"data:image/png;base64,{e}") for e in encoded]
    assert positions == sorted(positions)
    assert repr(gallery).splitlines() == [str(figures / f"{n}.png") for n in ("loss", "roc", "zz")]
    chosen = show_figures(tmp_path / "run", ["zz", "loss"])
    assert [p.stem for p in chosen.paths] == ["zz", "loss"]


def test_show_figures_names_what_is_missing(tmp_path):
    with pytest.raises(
        CnnlabError, match=r"figures holds no figures; draw them with `cnnlab figures"
    ):
        show_figures(tmp_path / "run")
    write_png(tmp_path / "run" / "figures" / "loss.png", 0)
    with pytest.raises(
        ConfigError, match=r"figures \['roc'\] are not in .*figures; it has \['loss'\]"
    ):
        show_figures(tmp_path / "run", ["loss", "roc"])
