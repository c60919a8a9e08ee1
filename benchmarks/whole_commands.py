"""Whole commands timed as processes, start to exit, for `benchmarks/speed.py` (#18, #24).

Each case runs a `cnnlab` command exactly as a user types it (report included) and reads back
from the run directory where the time went: start (process start to the first step), the
epochs (`metrics.csv`), and everything after the last epoch's checkpoint.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
V1 = ROOT / "configs" / "models" / "mnist_v1_conv_pool_linear.yaml"
FAST_MNIST = ROOT / "configs" / "recipes" / "fast-mnist.yaml"
LR_TABLE = ROOT / "configs" / "recipes" / "lr-table.yaml"
# issue #24's targets on a 2-core CPU
TARGETS = {"mnist-99-whole": 10.0, "start": 1.5, "lr-table-quick": 30.0}


@dataclass
class Whole:
    """One `cnnlab train` process from start to exit, and where its time went (seconds)."""

    wall: float
    startup: float  # process start to the first step (imports, data, model)
    training: float  # the epochs (metrics.csv epoch_seconds)
    post: float  # the last epoch's end (last.pt written) to exit
    phases: list[str]  # the post-training lines it printed, with their times
    accuracy: float


def _timed(command: list[str]) -> tuple[float, float, str]:
    """Run `command`: (start time, end time, its stderr); raises with the stderr on failure."""
    started = time.time()
    done = subprocess.run(command, capture_output=True, text=True)
    ended = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed:\n{done.stderr[-3000:]}")
    return started, ended, done.stderr


def timed_train(arguments: list[str], out: Path) -> Whole:
    """`cnnlab train ARGUMENTS --out OUT --name NAME` (report on), timed from outside."""
    name = f"whole-{len(list(out.glob('*')))}"
    command = [sys.executable, "-m", "cnnlab", "train", *arguments, "--out", str(out),
               "--name", name]  # fmt: skip
    started, ended, printed = _timed(command)
    run = out / name
    with open(run / "metrics.csv", newline="", encoding="utf-8") as stream:
        training = sum(float(r["epoch_seconds"]) for r in csv.DictReader(stream))
    last_epoch_end = (run / "last.pt").stat().st_mtime
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    return Whole(
        wall=ended - started,
        startup=last_epoch_end - started - training,
        training=training,
        post=ended - last_epoch_end,
        phases=[line for line in printed.splitlines() if re.search(r"\(\d+\.\ds\)$", line)],
        accuracy=metrics["accuracy"],
    )


def run_whole(data_dir: Path, out: Path, seed: int) -> Whole:
    """`cnnlab train` of the v1 net for one epoch on MNIST, as a user types it (report on)."""
    return timed_train(["--dataset", "mnist", "--model", str(V1), "--epochs", "1", "--seed",
                        str(seed), "--data-dir", str(data_dir)], out)  # fmt: skip


def run_fast_mnist(data_dir: Path, out: Path) -> Whole:
    """`cnnlab train configs/recipes/fast-mnist.yaml`: MNIST to 99% as one command."""
    return timed_train([str(FAST_MNIST), "--data-dir", str(data_dir)], out)


def run_lr_table_quick(out: Path) -> tuple[float, int]:
    """`cnnlab sweep configs/recipes/lr-table.yaml --quick` (12 runs): (wall s, runs)."""
    started, ended, _ = _timed([sys.executable, "-m", "cnnlab", "sweep", str(LR_TABLE),
                                "--quick", "--out", str(out / "lr-table-quick")])  # fmt: skip
    (results,) = (out / "lr-table-quick").glob("*/results.csv")
    with open(results, newline="", encoding="utf-8") as stream:
        return ended - started, len(list(csv.DictReader(stream)))


def whole_command_rows(
    reference: Callable[[int], object], data_dir: Path, out: Path, seeds: int
) -> list[tuple[object, Whole]]:
    """Reference (`reference(seed)`, a speed.Result) and cnnlab processes alternated per
    seed: a table of their walls and parts, and the issue #18 verdicts."""
    print(
        "| case | engine | start s | train s | post-training s | wall s | test acc | wall ratio |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    pairs = []
    for seed in range(seeds):
        ref = reference(seed)
        mine = run_whole(data_dir, out, seed)
        pairs.append((ref, mine))
        ratio = mine.wall / ref.wall
        print(f"| whole-v1 s{seed} | reference | | {ref.seconds[0]:.2f} | | "
              f"{ref.wall:.2f} | {ref.accuracy[0]:.4f} | |")  # fmt: skip
        print(f"| whole-v1 s{seed} | cnnlab | {mine.startup:.2f} | {mine.training:.2f} | "
              f"{mine.post:.2f} | {mine.wall:.2f} | {mine.accuracy:.4f} | {ratio:.2f} |")  # fmt: skip
        for line in mine.phases:
            print(f"    {line}", flush=True)
    posts = [m.post for _, m in pairs]
    ratios = [m.wall / r.wall for r, m in pairs]
    print(
        f"\nwhole-v1 over {len(pairs)} seed(s): post-training {statistics.mean(posts):.2f} s "
        f"(max {max(posts):.2f}; target <= 2 s: {'met' if max(posts) <= 2 else 'NOT met'}); "
        f"cnnlab wall / reference wall {statistics.mean(ratios):.2f} "
        f"(max {max(ratios):.2f}; target <= 0.6: {'met' if max(ratios) <= 0.6 else 'NOT met'})\n"
    )
    return pairs


def verdict(case: str, value: float) -> str:
    """'met' or 'NOT met (N.Nx the target)' against TARGETS[case]."""
    target = TARGETS[case]
    return "met" if value <= target else f"NOT met ({value / target:.1f}x the target)"
