"""`cnnlab eval RUN` (metrics.json, predictions.csv) and `cnnlab predict RUN --images ... --out`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnlab.errors import ConfigError

PER_CLASS_ROWS = 20  # the per-class table is printed for at most this many classes
FORMAT_CHOICES = ("predictions", "leaderboard")  # the keys of evaluate.FORMATS
ONNX_SUFFIX = ".onnx"  # `predict MODEL.onnx`: an exported model in place of a run
LEADERBOARD_HELP = (
    "leaderboard: exactly id,label with the predicted class index, in the dataset's canonical "
    "test order (the index in the official test file; a folder's files in sorted order)"
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the `eval` and `predict` verbs."""
    evaluate = subparsers.add_parser(
        "eval",
        help="test a run's best checkpoint; writes metrics.json, predictions.csv and figures",
        description="Evaluate a run's best checkpoint on its test split (or another dataset "
        "with the same class names) and write the metrics and predictions into the run.",
    )
    evaluate.add_argument("run", type=Path, help="run directory")
    evaluate.add_argument("--dataset", help="another dataset with the run's class names")
    evaluate.add_argument("--split", default="test", help="train, val or test (default test)")
    evaluate.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    evaluate.add_argument(
        "--format",
        choices=FORMAT_CHOICES,
        default="predictions",
        help="predictions (default): predictions.csv only; " + LEADERBOARD_HELP + ", written "
        "as leaderboard.csv beside predictions.csv",
    )
    evaluate.set_defaults(func=run_eval)

    predict_parser = subparsers.add_parser(
        "predict",
        help="predict classes for images with a run's best checkpoint or an exported ONNX file",
        description="Write id,label,true_label,prob_<class>... (or a leaderboard's id,label) for "
        "a folder or file of images, or for the test split of a dataset name. The images are "
        "compared with the run's training images first: a 'cnnlab: warning:' line says each "
        "way they differ (inverted, darker, low contrast, resized) and what to do. With a "
        "MODEL.onnx from `cnnlab export` in place of the run, only onnxruntime, NumPy and Pillow "
        "are used (no torch), on the CPU, for image files and folders.",
    )
    predict_parser.add_argument(
        "run", type=Path, metavar="RUN_OR_MODEL", help="run directory, or an exported .onnx file"
    )
    predict_parser.add_argument(
        "--images",
        required=True,
        metavar="DIR_OR_DATASET",
        help="an image file, a folder of images, or a dataset name (its test split)",
    )
    predict_parser.add_argument(
        "--out",
        type=Path,
        default=Path("predictions.csv"),
        help="CSV to write (default predictions.csv)",
    )
    predict_parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    predict_parser.add_argument(
        "--invert",
        action="store_true",
        help="feed 255 - pixel: dark-on-light images (a digit drawn on paper) for a run "
        "trained on light-on-dark ones (MNIST), or the other way round",
    )
    predict_parser.add_argument(
        "--format",
        choices=FORMAT_CHOICES,
        default="predictions",
        help="predictions (default): id,label,true_label,prob_<class>... with class names; "
        + LEADERBOARD_HELP,
    )
    predict_parser.set_defaults(func=run_predict)


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def metrics_table(metrics: dict) -> str:
    """A short plain-text table: headline metrics, then per-class rows for a few classes."""
    lines = [f"{metrics.get('dataset', '')} {metrics['split']}: {metrics['num_samples']} images"]
    headline = [("accuracy", metrics["accuracy"])]
    headline += [(f"top-{k} accuracy", v) for k, v in metrics["top_k"].items() if k != "1"]
    for average in ("macro", "weighted"):
        headline += [
            (f"{m} ({average})", metrics[f"{m}_{average}"]) for m in ("precision", "recall", "f1")
        ]
    headline += [("AUC (micro)", metrics["auc_micro"]), ("AUC (macro)", metrics["auc_macro"])]
    lines += [f"  {name:<22} {_value(value):>8}" for name, value in headline]
    per_class = metrics["per_class"]
    if len(per_class) <= PER_CLASS_ROWS:
        width = max(5, *(len(row["class"]) for row in per_class))
        columns = ("precision", "recall", "f1", "auc")
        lines.append(f"  {'class':<{width}}" + "".join(f" {c:>9}" for c in columns) + "  support")
        for row in per_class:
            cells = "".join(f" {_value(row[c]):>9}" for c in columns)
            lines.append(f"  {row['class']:<{width}}{cells} {row['support']:>8}")
    return "\n".join(lines)


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate the run, write its files, print the table and where they went."""
    from cnnlab.experiment.saved import evaluate  # heavy imports load when the verb runs
    from cnnlab.runs import RunDir
    from cnnlab.runs.rundir import output_tag

    leaderboard = args.format == "leaderboard"
    metrics = evaluate(args.run, args.dataset, args.split, args.device, leaderboard)
    print(metrics_table(metrics))
    run = RunDir(args.run)
    tag = output_tag(args.dataset, args.split, run.read_config().data.dataset)
    names = (run.test_metrics_path(tag).name, run.predictions_path(tag).name)
    names += (run.leaderboard_path(tag).name,) if leaderboard else ()
    figures = " and figures/" if tag is None else ""
    print(f"wrote {', '.join(names)}{figures} in {args.run}")
    return 0


def _predict_onnx(args: argparse.Namespace):
    """`predict MODEL.onnx`: onnxruntime on the CPU; torch is never imported."""
    from cnnlab.export.onnx_predict import predict_onnx_to_csv

    if args.device != "cpu":
        raise ConfigError(
            f"--device {args.device}: an ONNX file runs on the CPU with onnxruntime; drop "
            f"--device, or predict with the run directory"
        )
    return predict_onnx_to_csv(
        args.run, args.images, args.out, invert=args.invert, output_format=args.format
    )


def run_predict(args: argparse.Namespace) -> int:
    """Predict for image files, or for a dataset's test split when --images is not a path."""
    if args.run.suffix.lower() == ONNX_SUFFIX and not args.run.is_dir():
        done = _predict_onnx(args)
    else:
        from cnnlab.evaluate import predict_to_csv  # heavy imports load when the verb runs

        done = predict_to_csv(
            args.run,
            args.images,
            args.out,
            device=args.device,
            invert=args.invert,
            output_format=args.format,
        )
    for note in done.notes:
        print(f"cnnlab: note: {note}", file=sys.stderr)
    for warning in done.warnings:
        print(f"cnnlab: warning: {warning}", file=sys.stderr)
    if done.accuracy is not None:
        print(f"{args.images} test accuracy: {done.accuracy:.4f}")
    print(f"wrote {len(done.predictions.ids)} predictions to {args.out} ({args.format})")
    return 0
