"""A comparison page of several runs: one table of their key metrics, overlaid curves, diagnoses."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cnnlab.report.document import Bullets, Document, Image, Section, Table, Text, number, seconds
from cnnlab.report.figures import Curve, curves_figure, save_png
from cnnlab.report.html import write_html
from cnnlab.report.markdown import write_markdown
from cnnlab.report.sources import RunRecord, check_run_dirs, read_run
from cnnlab.runs import RunDir

COLUMNS = (
    "run",
    "model",
    "dataset",
    "epochs",
    "train acc",
    "test acc",
    "macro F1",
    "AUC macro",
    "time",
    "status",
)
ALIGN = ("l", "l", "l", "r", "r", "r", "r", "r", "r", "l")


def run_labels(paths: Sequence[Path]) -> list[str]:
    """Short unique names: the folder name, with its parent when two runs share a name."""
    names = [path.name for path in paths]
    labels = [
        name if names.count(name) == 1 else f"{path.parent.name}/{name}"
        for name, path in zip(names, paths, strict=True)
    ]
    return [
        label if labels.count(label) == 1 else str(path)
        for label, path in zip(labels, paths, strict=True)
    ]


def comparison_row(record: RunRecord, label: str, out_dir: Path) -> tuple[str, ...]:
    """One table row; the run's name links to its report.html when it has one."""
    report = RunDir(record.path).report_html
    name = (
        f"[{label}]({Path(os.path.relpath(report, out_dir)).as_posix()})"
        if report.is_file()
        else label
    )
    auc = record.metrics.get("auc_macro") if record.metrics else None
    return (
        name,
        f"`{record.model_name}`",
        f"`{record.dataset_name}`",
        str(len(record.epochs)),
        number(record.final_train_accuracy),
        number(record.test_accuracy),
        number(record.test_f1),
        number(auc),
        seconds(record.train_seconds),
        str(record.status.get("status", "unknown")),
    )


def overlay_curves(records: Sequence[RunRecord], labels: Sequence[str], metric: str) -> list[Curve]:
    """Per run, its validation `metric` per epoch (solid, when recorded) and its training one (dashed)."""
    curves = []
    for group, (record, label) in enumerate(zip(records, labels, strict=True)):
        for split, dashed in (("val", False), ("train", True)):
            points = [
                (row["epoch"], row[f"{split}_{metric}"])
                for row in record.epochs
                if row.get(f"{split}_{metric}") is not None
            ]
            if points:
                x, y = zip(*points, strict=True)
                curves.append(Curve(f"{label} {split}", x, y, group, dashed))
    return curves


def curve_figures(records: Sequence[RunRecord], labels: Sequence[str], folder: Path) -> list[Image]:
    """Accuracy and loss of every run on shared axes, saved as PNGs in `folder`."""
    images = []
    for metric, title in (("accuracy", "Accuracy per epoch"), ("loss", "Loss per epoch")):
        curves = overlay_curves(records, labels, metric)
        path = save_png(curves_figure(curves, title, metric), folder / f"{metric}.png")
        images.append(
            Image(path, f"{title}: validation solid, training dashed; one colour per run")
        )
    return images


def comparison_document(run_dirs: Sequence[Path], out_dir: Path) -> Document:
    """The comparison page of `run_dirs`; its figures are written into `out_dir/figures`."""
    records = [read_run(Path(path)) for path in run_dirs]
    labels = run_labels([record.path for record in records])
    rows = tuple(
        comparison_row(r, label, out_dir) for r, label in zip(records, labels, strict=True)
    )
    findings = [
        (f"**{label}**: {finding.message}", finding.kind)
        for record, label in zip(records, labels, strict=True)
        for finding in record.diagnosis()
    ]
    best = max(
        (
            (record.test_accuracy, label)
            for record, label in zip(records, labels, strict=True)
            if record.test_accuracy is not None
        ),
        default=None,
    )
    lead = (
        f"Best test accuracy: **{best[1]}** ({best[0]:.4f})."
        if best
        else "No run has a test accuracy yet."
    )
    return Document(
        f"Comparison of {len(records)} run{'s' if len(records) != 1 else ''}",
        ", ".join(labels),
        (
            Section("Runs", (Table(COLUMNS, rows, ALIGN), Text(lead))),
            Section("Curves", tuple(curve_figures(records, labels, out_dir / "figures"))),
            Section(
                "Diagnosis",
                (
                    Bullets(
                        tuple(text for text, _ in findings), tuple(kind for _, kind in findings)
                    ),
                ),
            ),
        ),
    )


def write_comparison(run_dirs: Sequence[Path], out_dir: Path) -> tuple[Path, Path]:
    """`comparison.md` and a self-contained `comparison.html` of `run_dirs`, in `out_dir`."""
    paths = check_run_dirs(run_dirs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    document = comparison_document(paths, out_dir)
    return write_markdown(document, out_dir / "comparison.md"), write_html(
        document, out_dir / "comparison.html"
    )
