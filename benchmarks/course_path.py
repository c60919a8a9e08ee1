"""The course path on the full datasets: every deliverable of the four assignments as the
cnnlab command a student runs, with what it produced (issue #20).

    python benchmarks/course_path.py --data-dir DIR [--out runs-course] [--only 1,2,13]

DIR (or $CNNLAB_DATA) holds mnist/, fashion-mnist/ and cifar10-jpg.tar.gz. Commands run one
after another in --out (later ones use earlier runs), each through `python -m cnnlab`, as
written in the table; epoch counts and subsets are cut where the full count takes hours on
2 cores (the command says how). Prints a Markdown table: deliverable, command, exit status,
wall time, and the result read back from the files the command wrote.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHOTO_CLASSES = ("dog", "frog", "horse", "ship", "truck")  # recipe 6's target classes


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def test_accuracy(run: str) -> Callable[[Path], str]:
    """'test acc 0.9871 (10,000 images)' of run `run` (relative to --out)."""

    def read(out: Path) -> str:
        metrics = _metrics(out / run)
        return f"test acc {metrics['accuracy']:.4f} ({metrics['num_samples']:,} images)"

    return read


def sweep_accuracies(sweep: str, key: str = "test_accuracy") -> Callable[[Path], str]:
    """'label=acc; ...' of every run of sweep `sweep`, from its results.csv."""

    def read(out: Path) -> str:
        with open(out / sweep / "results.csv", newline="") as stream:
            rows = list(csv.DictReader(stream))
        cells = []
        for row in rows:
            label = row.get("run") or row.get("name") or "?"
            value = row.get(key) or row.get("status", "")
            cells.append(f"{label} {float(value):.4f}" if _is_number(value) else f"{label} {value}")
        return "; ".join(cells)

    return read


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


def files(*paths: str) -> Callable[[Path], str]:
    """Which of `paths` (globs relative to --out) exist, counted."""

    def read(out: Path) -> str:
        found = [f"{p}: {len(list(out.glob(p)))}" for p in paths]
        return ", ".join(found)

    return read


def output_tail(out: Path) -> str:  # filled in by run(): the command's last stdout line
    return ""


@dataclass(frozen=True)
class Deliverable:
    assignment: str
    what: str
    command: str  # cnnlab arguments, run in --out
    result: Callable[[Path], str] = output_tail


SWEEP_OUT = "--out ."
ROWS = (
    Deliverable(
        "1 MNIST 0/1/7",
        "FC baseline vs one-conv net, 16 images per class and all (40 epochs)",
        f"sweep {ROOT}/configs/recipes/mnist-three-digits.yaml {SWEEP_OUT}",
        sweep_accuracies("mnist-three-digits"),
    ),  # fmt: skip
    Deliverable(
        "1 MNIST 0/1/7",
        "loss/accuracy curves, confusion matrix, filters, feature maps of every run",
        "figures mnist-three-digits/runs/model=conv1,per_class=16,seed=0",
        files("mnist-three-digits/runs/*/figures/*.png"),
    ),  # fmt: skip
    Deliverable(
        "1 MNIST 0/1/7",
        "side-by-side comparison page of the two nets",
        "report mnist-three-digits/runs/model=fc_only,per_class=16,seed=0 "
        "mnist-three-digits/runs/model=conv1,per_class=16,seed=0 --out compare-0-1-7",
        files("compare-0-1-7/*.html"),
    ),  # fmt: skip
    Deliverable(
        "2 deeper nets",
        "four nn.Sequential variants on MNIST, per-epoch test accuracy (2 of 5 epochs)",
        f"sweep {ROOT}/configs/recipes/mnist-sequential-variants.yaml --epochs 2 {SWEEP_OUT}",
        sweep_accuracies("mnist-sequential-variants"),
    ),  # fmt: skip
    Deliverable(
        "2 deeper nets",
        "ReLU+dropout variant on Fashion-MNIST (2 of 5 epochs)",
        f"sweep {ROOT}/configs/recipes/fashion-mnist-variant4.yaml --epochs 2 {SWEEP_OUT}",
        sweep_accuracies("fashion-mnist-variant4"),
    ),  # fmt: skip
    Deliverable(
        "2 deeper nets",
        "CIFAR-10 first convnets: conv1 vs deeper nets (500 images per class, 3 epochs)",
        f"sweep {ROOT}/configs/recipes/cifar10-first-convnets.yaml"
        f" --per-class 500 --epochs 3 {SWEEP_OUT}",
        sweep_accuracies("cifar10-first-convnets"),
    ),  # fmt: skip
    Deliverable(
        "3 ResNet-18",
        "ResNet-18 built layer by layer: shapes and parameter count",
        "summary resnet18 --dataset cifar10",
    ),  # fmt: skip
    Deliverable(
        "3 ResNet-18",
        "ResNet-18 trained on CIFAR-10 (1 epoch, 300 images per class)",
        "train --dataset cifar10 --model resnet18 --epochs 1 --per-class 300 "
        "--name cifar10-resnet18",
        test_accuracy("runs/cifar10-resnet18"),
    ),  # fmt: skip
    Deliverable(
        "3 lr x model",
        "DNN / ConvNet / ResNet-18 x 4 learning rates on MNIST (500 images per class)",
        f"sweep {ROOT}/configs/recipes/lr-table.yaml --per-class 500 --set data.val=500 "
        f"{SWEEP_OUT}",
        sweep_accuracies("lr-table"),
    ),  # fmt: skip
    Deliverable(
        "3 lr x model",
        "learning-rate range test",
        f"lr-find {ROOT}/configs/mnist-two-conv.yaml",
        files("runs/*-lr-find/*.png"),
    ),  # fmt: skip
    Deliverable(
        "4 transfer",
        "backbone on five CIFAR-10 classes, as recipe 6 needs it (its 3 epochs: recipe 6 "
        "refuses a backbone trained otherwise)",
        f"sweep {ROOT}/configs/recipes/cifar10-five-class-pretrain.yaml {SWEEP_OUT}",
        sweep_accuracies("cifar10-five-class-pretrain"),
    ),  # fmt: skip
    Deliverable(
        "4 transfer",
        "transfer vs scratch on the other five classes, over images per class and epochs",
        f"sweep {ROOT}/configs/recipes/transfer-vs-scratch.yaml {SWEEP_OUT}",
        sweep_accuracies("transfer-vs-scratch"),
    ),  # fmt: skip
    Deliverable(
        "4 transfer",
        "fine-tune the backbone on a photo folder (two-stage, 3 epochs)",
        "train --dataset my-photos/ --pretrained "
        "cifar10-five-class-pretrain/runs/seed=0 --strategy two-stage --epochs 3 "
        "--name photos-transfer",
        test_accuracy("runs/photos-transfer"),
    ),  # fmt: skip
    Deliverable(
        "4 NumPy",
        "conv/pool/affine backprop checked against centred differences",
        "scratch gradcheck",
    ),  # fmt: skip
    Deliverable(
        "4 NumPy",
        "NumPy ConvNet trained on CIFAR-10 (1 epoch, 200 images per class)",
        "scratch train --dataset cifar10 --epochs 1 --per-class 200 --val 200 --name numpy-cifar10",
        test_accuracy("runs/numpy-cifar10"),
    ),  # fmt: skip
    Deliverable(
        "4 leaderboard",
        "predictions.csv as id,label in the official test order",
        "eval runs/cifar10-resnet18 --format leaderboard",
        files("runs/cifar10-resnet18/leaderboard*.csv"),
    ),  # fmt: skip
)


def make_photo_folder(data_dir: Path, folder: Path, per_class: int = 60) -> None:
    """`folder/<class>/*.jpg`: the first `per_class` CIFAR-10 train JPEGs of five classes."""
    if folder.is_dir():
        return
    counts = dict.fromkeys(PHOTO_CLASSES, 0)
    with tarfile.open(data_dir / "cifar10-jpg.tar.gz") as archive:
        for member in archive:
            parts = member.name.split("/")
            if not member.isfile() or "train" not in parts or parts[-2] not in counts:
                continue
            if counts[parts[-2]] < per_class:
                target = folder / parts[-2] / parts[-1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.extractfile(member).read())
                counts[parts[-2]] += 1
            if all(n >= per_class for n in counts.values()):
                break


def run(row: Deliverable, out: Path, env: dict) -> tuple[int, float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cnnlab", *shlex.split(row.command)], cwd=out,
                          env=env, capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - started
    (out / "logs").mkdir(exist_ok=True)
    name = "".join(c if c.isalnum() else "-" for c in row.command)[:80]
    (out / "logs" / f"{name}.log").write_text(done.stdout + done.stderr)
    if done.returncode:
        error = [line for line in done.stderr.splitlines() if "error" in line]
        return done.returncode, seconds, (error or done.stderr.splitlines() or ["?"])[-1][:200]
    if row.result is output_tail:
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        return 0, seconds, (lines[-1] if lines else "")[:200]
    try:
        return 0, seconds, row.result(out)
    except (OSError, KeyError, ValueError) as error:
        return 0, seconds, f"(result not readable: {error})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("CNNLAB_DATA"))
    parser.add_argument("--out", default="runs-course")
    parser.add_argument("--only", help="row numbers, e.g. 1,2,13")
    args = parser.parse_args()
    if not args.data_dir:
        print("skipped: the course path needs the full datasets (--data-dir or CNNLAB_DATA)")
        return 0
    data_dir, out = Path(args.data_dir).resolve(), Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    make_photo_folder(data_dir, out / "my-photos")
    env = {**os.environ, "CNNLAB_DATA": str(data_dir), "MPLBACKEND": "Agg"}
    chosen = {int(n) for n in args.only.split(",")} if args.only else None
    print("| # | assignment | deliverable | command | exit | time | result |")
    print("| ---: | --- | --- | --- | ---: | ---: | --- |")
    failed = 0
    for number, row in enumerate(ROWS, 1):
        if chosen and number not in chosen:
            continue
        code, seconds, result = run(row, out, env)
        failed += code != 0
        command = "cnnlab " + row.command.replace(str(ROOT) + "/", "")
        print(f"| {number} | {row.assignment} | {row.what} | `{command}` | {code} | "
              f"{seconds:.0f} s | {result} |", flush=True)  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
