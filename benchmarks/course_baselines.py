"""The course baselines on the full datasets: accuracy after 5 epochs and time per epoch.

    python benchmarks/course_baselines.py --data-dir DIR   (or set CNNLAB_DATA)

Trains configs/mnist-two-conv.yaml (target >= 98.5% test) and
configs/fashion-mnist-relu-dropout.yaml (target >= 89%) and prints one table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from cnnlab.config import load_experiments
from cnnlab.experiment import train
from cnnlab.runs.env import cpu_model

ROOT = Path(__file__).resolve().parent.parent
CASES = (
    ("configs/mnist-two-conv.yaml", 0.985),
    ("configs/fashion-mnist-relu-dropout.yaml", 0.89),
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=os.environ.get("CNNLAB_DATA"))
    parser.add_argument("--epochs", type=int, help="override the configs' 5 epochs")
    args = parser.parse_args()
    if not args.data_dir:
        print(
            "skipped: give --data-dir or set CNNLAB_DATA to a directory with mnist/ and fashion-mnist/"
        )
        return 0
    print(f"machine: {cpu_model()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for path, target in CASES:
            overrides = [f"data.data_dir={args.data_dir}", "data.offline=true", f"out={out}"]
            if args.epochs:
                overrides.append(f"train.epochs={args.epochs}")
            config = load_experiments(ROOT / path, overrides)[0]
            result = train(config, quiet=True, report=False)
            epoch_seconds = [row["epoch_seconds"] for row in result.history.epochs]
            rows.append(
                (
                    path,
                    len(epoch_seconds),
                    statistics.mean(epoch_seconds),
                    result.metrics["test_accuracy"],
                    target,
                    result.metrics["test_eval_seconds"],
                )
            )
    print(
        f"{'config':<42} {'epochs':>6} {'s/epoch':>8} {'test acc':>9} {'target':>7} {'met':>4} {'eval s':>7}"
    )
    for path, epochs, seconds, accuracy, target, evaluation in rows:
        met = "yes" if accuracy >= target else "NO"
        print(
            f"{path:<42} {epochs:>6} {seconds:>8.1f} {accuracy:>9.4f} {target:>7.3f} {met:>4} {evaluation:>7.2f}"
        )
    return 0 if all(r[3] >= r[4] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
