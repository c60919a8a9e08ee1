"""The report of one run as a `Document`: summary, diagnosis, metrics, figures, model, data, config, log.

Only the model summary and the dataset profile are computed here: from the model and data
`cnnlab train` hands over, or (for `cnnlab report RUN`) the model rebuilt from its checkpoint
and the data loaded offline; everything else is read from the run directory through `RunDir`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cnnlab.data import Dataset
from cnnlab.data.configured import load_configured
from cnnlab.data.profile import DatasetProfile, profile_dataset, profile_markdown
from cnnlab.models.classifier import Classifier
from cnnlab.report.document import (
    Block,
    Bullets,
    Code,
    Document,
    Image,
    Markdown,
    Section,
    Table,
    Text,
    number,
    seconds,
)
from cnnlab.report.html import write_html
from cnnlab.report.markdown import write_markdown
from cnnlab.report.model_sections import model_of, model_section, preprocessing_section
from cnnlab.report.sources import RunRecord, check_run_dirs, read_run
from cnnlab.runs import RunDir
from cnnlab.visualize.figure_table import caption

MOST_CONFUSED = 10  # class pairs listed


def not_evaluated(path: Path) -> Text:
    """The note a section shows when `cnnlab eval` has not run yet."""
    return Text(f"Not evaluated yet (run `cnnlab eval {path}`).")


def status_text(record: RunRecord) -> str:
    """'finished after 10 epochs (best epoch 8)' and the like, from status.json and metrics.csv."""
    status = record.status
    text = str(status.get("status", "unknown"))
    if status.get("epoch") is not None:
        text += (
            f" at epoch {status['epoch']}"
            if text in ("running", "diverged")
            else (f" after {status['epoch']} epochs")
        )
    if status.get("best_epoch") is not None:
        text += f" (best epoch {status['best_epoch']})"
    return text


def summary_section(record: RunRecord) -> Section:
    """Key facts at a glance."""
    names = record.class_names
    configured = (record.config.get("data") or {}).get("classes")
    classes = ", ".join(map(str, names or configured or ["all"]))
    env = record.env
    rows = [
        ("run", f"`{record.path}`"),
        ("status", status_text(record)),
        ("model", f"`{record.model_name}`"),
        ("dataset", f"`{record.dataset_name}`"),
        ("classes", classes),
        ("epochs run", str(len(record.epochs))),
        ("train accuracy (last epoch, while training)", number(record.running_train_accuracy)),
        ("train accuracy (evaluated weights)", number(record.final_train_accuracy)),
        ("test accuracy", number(record.test_accuracy)),
        ("training time", seconds(record.train_seconds)),
    ]
    if env:
        library = (  # a scratch run's env.json names NumPy, not torch
            f"NumPy {env.get('numpy', '?')}" if "torch" not in env else f"torch {env['torch']}"
        )
        rows.append(("device", f"{env.get('device', '?')}, {library}{arithmetic(env)}"))
    blocks: list[Block] = [Table(("", ""), tuple(rows))]
    if record.problems:
        blocks.append(Text("Unreadable files (left out): " + "; ".join(record.problems)))
    return Section("Summary", tuple(blocks))


def arithmetic(env: dict) -> str:
    """ ", fp32 on AVX2": the precision a run computed in and, on a CPU, the vector unit that
    chose it (`train.precision: auto`); empty for runs whose env.json predates these keys."""
    precision = env.get("precision")
    if not precision:
        return ""
    unit = env.get("cpu_capability") if env.get("device") == "cpu" else None
    return f", {precision}" + (f" on {unit}" if unit else "")


def diagnosis_section(record: RunRecord) -> Section:
    """The findings read off the curves and the evaluated accuracies."""
    findings = record.diagnosis()
    return Section(
        "Diagnosis",
        (
            Bullets(
                tuple(finding.message for finding in findings),
                tuple(finding.kind for finding in findings),
            ),
        ),
    )


def metric_tables(metrics: dict) -> list[Block]:
    """metrics.json as tables: overall, macro/weighted averages, per class, most-confused pairs."""
    overall = [("samples", f"{metrics.get('num_samples', '–')} ({metrics.get('split', 'test')})")]
    overall.append(("accuracy", number(metrics.get("accuracy"))))
    if "balanced_accuracy" in metrics:  # older runs' metrics.json lack it
        overall.append(("balanced accuracy", number(metrics["balanced_accuracy"])))
    for k, value in (metrics.get("top_k") or {}).items():
        overall.append((f"top-{k} accuracy", number(value)))
    overall += [
        ("AUC micro", number(metrics.get("auc_micro"))),
        ("AUC macro", number(metrics.get("auc_macro"))),
    ]
    averages = tuple(
        (
            average,
            *(number(metrics.get(f"{name}_{average}")) for name in ("precision", "recall", "f1")),
        )
        for average in ("macro", "weighted")
    )
    blocks: list[Block] = [
        Table(("metric", "value"), tuple(overall), ("l", "r"), "Test metrics"),
        Table(("average", "precision", "recall", "F1"), averages, ("l", "r", "r", "r"), "Averages"),
    ]
    per_class = tuple(
        (
            str(entry.get("class", "?")),
            number(entry.get("precision")),
            number(entry.get("recall")),
            number(entry.get("f1")),
            number(entry.get("support"), "d"),
            number(entry.get("auc")),
        )
        for entry in metrics.get("per_class") or ()
    )
    if per_class:
        header = ("class", "precision", "recall", "F1", "support", "AUC")
        blocks.append(Table(header, per_class, ("l", "r", "r", "r", "r", "r"), "Per class"))
    confused = tuple(
        (str(pair.get("true")), str(pair.get("predicted")), number(pair.get("count"), "d"))
        for pair in (metrics.get("most_confused") or ())[:MOST_CONFUSED]
    )
    if confused:
        blocks.append(
            Table(("true", "predicted", "count"), confused, ("l", "l", "r"), "Most confused pairs")
        )
    return blocks


def metrics_section(record: RunRecord) -> Section:
    """Test metrics from metrics.json, or a note that the run is not evaluated yet."""
    if record.metrics:
        return Section("Metrics", tuple(metric_tables(record.metrics)))
    return Section("Metrics", (not_evaluated(record.path),))


def figures_section(record: RunRecord) -> Section:
    """Every figure in figures/, known ones first."""
    if not record.figures:
        return Section("Figures", (not_evaluated(record.path),))
    images = (Image(path, caption(path.stem, record.config)) for path in record.figures)
    return Section("Figures", tuple(images))


def dataset_section(
    record: RunRecord, dataset: Dataset | None = None, profile: DatasetProfile | None = None
) -> Section:
    """The dataset profile: `profile` (of `dataset`) when made already, else of the data given,
    else the run's saved one, else of the data loaded offline (never downloading)."""
    run = RunDir(record.path)
    if dataset is None and run.profile_path.is_file():
        saved = run.profile_path.read_text(encoding="utf-8", errors="replace")
        return Section("Dataset", (Markdown(saved),))
    try:
        if dataset is None:
            config = run.read_config()
            dataset = load_configured(
                dataclasses.replace(config.data, offline=True), config.train.seed
            )
        text = profile_markdown(profile or profile_dataset(dataset))
    except Exception as error:  # a dataset no longer at hand only costs this section
        return Section("Dataset", (Text(f"Dataset profile not available: {error}"),))
    notes = tuple(Text(f"Splits: {note}.") for note in dataset.notes)
    return Section("Dataset", (*notes, Markdown(text)))


def text_section(title: str, text: str | None, language: str, missing: str) -> Section:
    return Section(title, (Code(text.rstrip("\n"), language),) if text else (Text(missing),))


def run_document(
    run_dir: Path,
    model: Classifier | None = None,
    dataset: Dataset | None = None,
    profile: DatasetProfile | None = None,
) -> Document:
    """The report of the run in `run_dir`, whatever parts of it exist (model and data if given,
    and the data's profile when made already)."""
    record = read_run(Path(run_dir))
    run_model = model_of(record, model)
    subtitle = (
        f"{record.model_name} on {record.dataset_name} · {status_text(record)} · "
        f"test accuracy {number(record.test_accuracy)}"
    )
    return Document(
        f"Run report: {record.name}",
        subtitle,
        (
            summary_section(record),
            diagnosis_section(record),
            metrics_section(record),
            figures_section(record),
            model_section(record, run_model),
            preprocessing_section(record, run_model),
            dataset_section(record, dataset, profile),
            text_section(
                "Configuration", record.config_text, "yaml", "No config.yaml in this run."
            ),
            text_section(
                "Training log", "\n".join(record.log_tail), "text", "No train.log in this run yet."
            ),
        ),
    )


def write_report(
    run_dir: Path,
    *,
    model: Classifier | None = None,
    dataset: Dataset | None = None,
    profile: DatasetProfile | None = None,
) -> tuple[Path, Path]:
    """`report.md` and a self-contained `report.html` in the run directory `run_dir`.

    `cnnlab train` passes the model and data it holds, so neither is loaded a second time, and
    the data's profile, which it times as a phase of its own.
    """
    (path,) = check_run_dirs([run_dir])
    run = RunDir(path)
    document = run_document(path, model, dataset, profile)
    return write_markdown(document, run.report_md), write_html(document, run.report_html)
