"""`cnnlab eval RUN` (metrics.json, predictions.csv) and `cnnlab predict RUN --images ... --out`."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cnnlab.evaluate import evaluate_run, predict, test_model, write_predictions
from cnnlab.evaluate.api import EvalResult, output_names

PER_CLASS_ROWS = 20  # the per-class table is printed for at most this many classes


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the `eval` and `predict` verbs."""
    evaluate = subparsers.add_parser(
        "eval", help="test a run's best checkpoint; writes metrics.json and predictions.csv",
        description="Evaluate a run's best checkpoint on its test split (or another dataset "
        "with the same class names) and write the metrics and predictions into the run.",
    )
    evaluate.add_argument("run", type=Path, help="run directory")
    evaluate.add_argument("--dataset", help="another dataset with the run's class names")
    evaluate.add_argument("--split", default="test", help="train, val or test (default test)")
    evaluate.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    evaluate.set_defaults(func=run_eval)

    predict_parser = subparsers.add_parser(
        "predict", help="predict classes for images with a run's best checkpoint",
        description="Write id,label,true_label,prob_<class>... for a folder or file of images, "
        "or for the test split of a dataset name.",
    )
    predict_parser.add_argument("run", type=Path, help="run directory")
    predict_parser.add_argument(
        "--images", required=True, metavar="DIR_OR_DATASET",
        help="an image file, a folder of images, or a dataset name (its test split)",
    )
    predict_parser.add_argument("--out", type=Path, default=Path("predictions.csv"),
                                help="CSV to write (default predictions.csv)")
    predict_parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    predict_parser.set_defaults(func=run_predict)


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def metrics_table(metrics: dict) -> str:
    """A short plain-text table: headline metrics, then per-class rows for a few classes."""
    lines = [f"{metrics.get('dataset', '')} {metrics['split']}: {metrics['num_samples']} images"]
    headline = [("accuracy", metrics["accuracy"])]
    headline += [(f"top-{k} accuracy", v) for k, v in metrics["top_k"].items() if k != "1"]
    for average in ("macro", "weighted"):
        headline += [(f"{m} ({average})", metrics[f"{m}_{average}"]) for m in ("precision", "recall", "f1")]
    headline += [("AUC (micro)", metrics["auc_micro"]), ("AUC (macro)", metrics["auc_macro"])]
    lines += [f"  {name:<22} {_value(value):>8}" for name, value in headline]
    per_class = metrics["per_class"]
    if len(per_class) <= PER_CLASS_ROWS:
        width = max(5, *(len(row["class"]) for row in per_class))
        lines.append(f"  {'class':<{width}} {'precision':>9} {'recall':>8} {'f1':>8} {'auc':>8} {'support':>8}")
        for row in per_class:
            lines.append(
                f"  {row['class']:<{width}} {_value(row['precision']):>9} {_value(row['recall']):>8} "
                f"{_value(row['f1']):>8} {_value(row['auc']):>8} {row['support']:>8}"
            )
    return "\n".join(lines)


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate the run, write its files, print the table and where they went."""
    metrics = evaluate_run(args.run, args.dataset, args.split, device=args.device)
    print(metrics_table(metrics))
    marker = EvalResult({}, np.zeros((0, 0)), np.zeros(0), np.zeros(0), (), metrics["dataset"],
                        args.split, args.dataset is None or metrics["dataset"] == args.dataset and False)
    del marker
    return 0


def run_predict(args: argparse.Namespace) -> int:
    """Predict for image files, or for a dataset's test split when --images is not a path."""
    source = Path(args.images)
    if source.exists():
        results = predict(args.run, source, device=args.device)
        ids = [image_id for image_id, _, _ in results]
        probabilities = np.stack([probs for _, _, probs in results])  # (N, K)
        class_names = _class_names(args.run)
        write_predictions(args.out, ids, probabilities, class_names)
    else:
        result = test_model(args.run, args.images, "test", device=args.device)
        write_predictions(args.out, result.ids.tolist(), result.probabilities, result.class_names, result.y_true)
        print(f"{args.images} test: accuracy {result.metrics['accuracy']:.4f}")
        ids = result.ids
    print(f"wrote {len(ids)} predictions to {args.out}")
    return 0
