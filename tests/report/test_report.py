"""Reports of real tiny runs: every section, self-contained HTML, comparison, missing parts, CLI."""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil

import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnlab.cli import report_cmd
from cnnlab.errors import CnnlabError
from cnnlab.report import run_document, write_comparison, write_report
from cnnlab.report.document import Image
from cnnlab.report.figures import Curve, curves_figure, save_png
from cnnlab.report.html import embed, png_width
from cnnlab.report.sections import arithmetic

CLASSES = ["0", "1", "7"]
SECTIONS = (
    "Summary",
    "Diagnosis",
    "Metrics",
    "Figures",
    "Model",
    "Preprocessing",
    "Dataset",
    "Configuration",
    "Training log",
)


def hand_metrics() -> dict:
    """A metrics.json in evaluate's format, for three classes."""
    per_class = [
        {"class": name, "precision": p, "recall": r, "f1": f, "support": s, "auc": a}
        for name, p, r, f, s, a in zip(
            CLASSES,
            (0.9, 0.8, 0.7),
            (0.85, 0.95, 0.6),
            (0.874, 0.869, 0.646),
            (42, 67, 49),
            (0.97, 0.99, 0.91),
            strict=True,
        )
    ]
    return {
        "split": "test",
        "num_samples": 158,
        "accuracy": 0.8101,
        "balanced_accuracy": 0.8,
        "top_k": {"1": 0.8101, "2": 0.9367},
        "precision_macro": 0.8,
        "recall_macro": 0.8,
        "f1_macro": 0.7963,
        "precision_weighted": 0.81,
        "recall_weighted": 0.81,
        "f1_weighted": 0.8061,
        "auc_micro": 0.9512,
        "auc_macro": 0.9567,
        "per_class": per_class,
        "confusion_matrix": [[36, 2, 4], [1, 64, 2], [3, 17, 29]],
        "most_confused": [{"true": "7", "predicted": "1", "count": 17}],
        "highest_loss": [],
    }


def hand_figures(folder) -> list:
    """Two PNG figures (and an SVG twin of one) as visualize would leave them."""
    epochs = [1, 2, 3, 4]
    loss = curves_figure([Curve("train", epochs, [1.1, 0.8, 0.6, 0.5])], "Loss", "loss")
    matrix = Figure(figsize=(3, 3))
    matrix.add_subplot().imshow(np.eye(3), cmap="Blues")
    paths = [save_png(loss, folder / "loss.png"), save_png(matrix, folder / "confusion_matrix.png")]
    (folder / "loss.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return paths


@pytest.fixture(scope="module")
def runs(tmp_path_factory, make_gray_run):
    """A trained run with metrics.json and figures ('full'), and copies missing parts."""
    root = tmp_path_factory.mktemp("runs")
    full = make_gray_run(root, "full", "train.epochs=3", "train.batch_size=64")
    bare = shutil.copytree(full, root / "bare")
    for evaluated in ("metrics.json", "predictions.csv"):  # as if never evaluated
        (bare / evaluated).unlink()
    (full / "metrics.json").write_text(json.dumps(hand_metrics()))
    figures = hand_figures(full / "figures")
    return {"full": full, "bare": bare, "figures": figures, "root": root}


@pytest.fixture(scope="module")
def full_report(runs):
    md, html = write_report(runs["full"])
    return md.read_text(encoding="utf-8"), html.read_text(encoding="utf-8")


def test_markdown_has_every_section(runs, full_report):
    md, _ = full_report
    headings = re.findall(r"^## (.+)$", md, flags=re.M)
    assert headings == ["Contents", *SECTIONS]
    assert md.startswith("# Run report: full\n")
    assert "| status | finished after 3 epochs" in md
    assert "```yaml\nname: full\n" in md and "  name: conv1" in md  # the config block
    assert "### Dataset profile: mnist-sample" in md and "| val | 9 |" in md
    assert "| conv | Conv2d | 32x28x28 | 320 |" in md  # model summary
    assert "| balanced accuracy | 0.8000 |" in md
    env = json.loads((runs["full"] / "env.json").read_text())
    assert f"| device | cpu, torch {env['torch']}, {env['precision']} on " in md
    assert "| accuracy | 0.8101 |" in md and "| top-2 accuracy | 0.9367 |" in md
    assert "| AUC micro | 0.9512 |" in md and "| AUC macro | 0.9567 |" in md
    assert "| macro | 0.8000 | 0.8000 | 0.7963 |" in md
    assert "| 7 | 0.7000 | 0.6000 | 0.6460 | 49 | 0.9100 |" in md  # per class
    assert "| 7 | 1 | 17 |" in md  # most confused
    assert "![Loss: training per iteration" in md and "](figures/loss.png)" in md
    assert "](figures/confusion_matrix.png)" in md and "loss.svg" not in md
    log = (runs["full"] / "train.log").read_text().splitlines()
    assert md.rstrip().endswith(log[-1] + "\n```")  # the log's tail, last line last
    diagnosis = md.split("## Diagnosis")[1].split("## Metrics")[0]
    assert "No validation split" not in diagnosis and diagnosis.strip().startswith("- ")


def test_figures_come_in_reading_order(runs):
    document = run_document(runs["full"])
    figures = next(s for s in document.sections if s.title == "Figures")
    assert [block.path.name for block in figures.blocks] == ["loss.png", "confusion_matrix.png"]


def test_html_is_self_contained_and_embeds_each_figure(runs, full_report):
    _, html = full_report
    assert 'src="http' not in html and 'href="http' not in html
    assert "<script" not in html and "<link" not in html and "url(" not in html
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    for path in runs["figures"]:
        assert base64.b64encode(path.read_bytes()).decode() in html
    assert "Content-Security-Policy" in html
    for section in SECTIONS:
        anchor = section.lower().replace(" ", "-")
        assert f'<a href="#{anchor}">{section}</a>' in html and f'<section id="{anchor}">' in html
    assert '<td class="num">0.9567</td>' in html  # tables with right-aligned numbers
    assert "<h3>Dataset profile: mnist-sample</h3>" in html


def test_missing_metrics_and_figures_say_how_to_get_them(runs):
    md_path, html_path = write_report(runs["bare"])
    md = md_path.read_text()
    note = f"Not evaluated yet (run `cnnlab eval {runs['bare']}`)."
    metrics = md.split("## Metrics")[1].split("## Figures")[0]
    figures = md.split("## Figures")[1].split("## Model")[0]
    assert note in metrics and note in figures
    assert "| train accuracy (last epoch, while training) | 0." in md
    assert "<img" not in html_path.read_text() and "<code>cnnlab eval" in html_path.read_text()


def test_a_run_with_only_its_config_still_gets_a_report(runs, tmp_path):
    run = tmp_path / "fresh"
    run.mkdir()
    shutil.copy(runs["full"] / "config.yaml", run / "config.yaml")
    (run / "metrics.json").write_text("{not json")
    md = write_report(run)[0].read_text()
    assert "No epoch finished yet" in md
    assert "Model summary not available: best.pt:" in md
    assert re.search(r"Unreadable files \(left out\): \S*metrics\.json: damaged", md)
    assert "No train.log in this run yet." in md
    assert sorted(p.name for p in run.iterdir()) == [
        "config.yaml",
        "metrics.json",
        "report.html",
        "report.md",
    ]


def test_a_saved_dataset_profile_is_used_as_is(runs, tmp_path):
    run = shutil.copytree(runs["bare"], tmp_path / "profiled")
    (run / "data_profile.md").write_text("# Dataset profile: saved\n\n- from the run <b>\n")
    md, html = (p.read_text() for p in write_report(run))
    assert "### Dataset profile: saved" in md
    assert "<h3>Dataset profile: saved</h3>" in html and "<li>from the run &lt;b&gt;</li>" in html


def test_comparison_of_two_runs(runs, tmp_path):
    out = tmp_path / "comparison"
    md_path, html_path = write_comparison([runs["full"], runs["bare"]], out)
    md, html = md_path.read_text(), html_path.read_text()
    table = md.split("## Runs")[1].split("## Curves")[0]
    assert (
        "| run | model | dataset | epochs | train acc | test acc | macro F1 | AUC macro |" in table
    )
    assert re.search(
        r"\| \[full\]\(\.\./.*full/report\.html\) \| `conv1` \| `mnist-sample` \| 3 \|", table
    )
    assert "| 0.8101 | 0.7963 | 0.9567 |" in table  # from full's metrics.json
    bare = next(line for line in table.splitlines() if "bare" in line)
    assert bare.endswith("| finished |") and "| – |" in bare  # no AUC without metrics.json
    assert "Best test accuracy: **" in table
    for name in ("accuracy.png", "loss.png"):
        assert (out / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"](figures/{name})" in md
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 2
    assert 'src="http' not in html and 'href="http' not in html
    assert "**full**:" in md and "**bare**:" in md  # both diagnosed


def test_runs_with_the_same_name_get_distinct_labels(runs, tmp_path):
    other = shutil.copytree(runs["bare"], tmp_path / "elsewhere" / "full")
    md = write_comparison([runs["full"], other], tmp_path / "out")[0].read_text()
    assert "elsewhere/full" in md and f"{runs['full'].parent.name}/full" in md


def test_not_a_run_is_an_error(tmp_path):
    with pytest.raises(CnnlabError, match="does not exist"):
        write_report(tmp_path / "nowhere")
    with pytest.raises(CnnlabError, match=r"is not a cnnlab run: config\.yaml is missing"):
        write_comparison([tmp_path], tmp_path / "out")
    with pytest.raises(CnnlabError, match="at least one run directory"):
        write_comparison([], tmp_path / "out")


def test_cli_writes_a_report_or_a_comparison(runs, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    report_cmd.add_parser(parser.add_subparsers())
    run = shutil.copytree(runs["bare"], tmp_path / "cli")
    args = parser.parse_args(["report", str(run)])
    assert args.func(args) == 0
    assert capsys.readouterr().out.split() == [str(run / "report.md"), str(run / "report.html")]
    args = parser.parse_args(
        ["report", str(run), str(runs["full"]), "--out", str(tmp_path / "cmp")]
    )
    assert args.func(args) == 0
    assert (tmp_path / "cmp" / "comparison.html").is_file()
    args = parser.parse_args(["report", str(run), str(runs["full"])])
    assert args.func(args) == 0
    assert len(list(tmp_path.glob("comparison-*/comparison.md"))) == 1


def test_wide_figures_span_the_grid(tmp_path):
    wide = Figure(figsize=(12, 2), dpi=100)
    wide.add_subplot().plot([0, 1])
    data = save_png(wide, tmp_path / "wide.png").read_bytes()
    assert png_width(data) == 1200 and png_width(b"<svg/>") is None
    assert embed(Image(tmp_path / "wide.png", "wide")).wide
    gone = embed(Image(tmp_path / "gone.png", "gone"))
    assert gone.src == "" and "gone.png" in gone.error


def test_the_device_row_names_the_arithmetic_and_old_runs_go_without():
    cpu = {"device": "cpu", "precision": "fp32", "cpu_capability": "AVX2"}
    assert arithmetic(cpu) == ", fp32 on AVX2"
    assert arithmetic({"device": "cuda:0", "precision": "bf16", "cpu_capability": "AVX2"}) == (
        ", bf16"
    )
    assert arithmetic({"device": "cpu", "torch": "2.2.0"}) == ""  # env.json before the keys
