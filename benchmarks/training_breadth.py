"""Imbalance remedies and training additions on CIFAR-10, measured (issue #23).

    python benchmarks/training_breadth.py --data-dir DIR [--study imbalance,augment]
        [--seeds 0,1] [--epochs 6] [--per-class 1000] [--variants A,B] [--out runs-breadth]

Every run is one `cnnlab train` process on the CIFAR-10 JPEG copy in DIR (or $CNNLAB_DATA),
with the deeper CIFAR net of `configs/recipes/cifar10-first-convnets.yaml` (convnet_deep,
widths 32/64/128, hidden 256, dropout 0.3, average pooling; Adam 1e-3, weight decay 5e-4,
batch 128). Runs already finished in --out are read back, not trained again, and a run
stopped part-way resumes from its last.pt.

Studies:
  imbalance  long-tailed training sets: `--per-class` images per class, then
             `data.imbalance` 10 and 100 (class k keeps ratio^(-k/9) of them), with no remedy,
             `data.class_weights: auto` and `data.sampler: balanced`; scored by balanced
             accuracy on the full, balanced test set
  augment    `--per-class` training images per class, crop4+flip as the baseline, then each
             of TrivialAugment, MixUp+CutMix, label smoothing 0.1, EMA and all of them
             together, same epochs

`--per-class` (a subset, so that 2 cores finish in minutes) applies to both studies;
`--variants` (names as in the table, comma-separated) runs only those variants.

Prints a Markdown table per run and one of the means over seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE = (
    "--dataset", "cifar10", "--model", "convnet_deep",
    "--set", "model.options={widths: [32, 64, 128], hidden: [256], dropout: 0.3, pool: avg}",
    "--optimizer", "adam", "--lr", "1e-3", "--set", "optim.weight_decay=5e-4",
    "--batch-size", "128",
)  # fmt: skip
IMBALANCE = {  # variant -> extra --set values
    "none": (),
    "auto weights": ("data.class_weights=auto",),
    "balanced sampler": ("data.sampler=balanced",),
}
BASE_AUGMENT = "crop4,flip"
AUGMENT = {
    "crop4+flip": (f"data.augment={BASE_AUGMENT}",),
    "+ trivial": (f"data.augment=trivial,{BASE_AUGMENT}",),
    "+ mixup/cutmix": (f"data.augment={BASE_AUGMENT}", "data.mixup=0.2", "data.cutmix=1.0"),
    "+ label smoothing": (f"data.augment={BASE_AUGMENT}", "optim.label_smoothing=0.1"),
    "+ ema": (f"data.augment={BASE_AUGMENT}", "train.ema=0.99"),
    "+ all": (
        f"data.augment=trivial,{BASE_AUGMENT}",
        "data.mixup=0.2",
        "data.cutmix=1.0",
        "optim.label_smoothing=0.1",
        "train.ema=0.99",
    ),
}


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


def run_one(out: Path, name: str, args: list[str], data_dir: str) -> dict:
    """Train (unless done already) and read back metrics.json and final_metrics.json."""
    run = out / name
    if not (run / "metrics.json").is_file():
        command = [sys.executable, "-m", "cnnlab", "train", *args, "--data-dir", data_dir]
        command += ["--out", str(out), "--name", name, "--quiet", "--no-report"]
        if (run / "last.pt").is_file():  # stopped part-way (a session ended): go on from there
            command = [sys.executable, "-m", "cnnlab", "train", "--resume", str(run), "--quiet",
                       "--no-report"]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # its summary table
        print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    metrics = json.loads((run / "metrics.json").read_text())
    final = json.loads((run / "final_metrics.json").read_text())
    return {
        "accuracy": metrics["accuracy"],
        "balanced": metrics["balanced_accuracy"],
        "train_images": final["split_sizes"].get("train", 0),
        "seconds": final["train_seconds"],
    }


def studies(args) -> list[tuple[str, str, list[str]]]:
    """(study, variant, extra cnnlab arguments) for every run asked for, seeds excluded."""
    plan = []
    wanted = variant_names(args.variants)
    if "imbalance" in args.study:
        for ratio in (10, 100):
            for variant, sets in IMBALANCE.items():
                extra = ["--per-class", str(args.per_class), "--set", f"data.imbalance={ratio}"]
                extra += [item for value in sets for item in ("--set", value)]
                plan.append((f"imbalance {ratio}, {args.per_class}/class", variant, extra))
    if "augment" in args.study:
        for variant, sets in AUGMENT.items():
            extra = ["--per-class", str(args.per_class)]
            extra += [item for value in sets for item in ("--set", value)]
            plan.append((f"augment, {args.per_class}/class", variant, extra))
    return [step for step in plan if not wanted or step[1] in wanted]


def variant_names(text: str) -> set[str]:
    """The variants `--variants` names (empty: all of them)."""
    return {name.strip() for name in text.split(",") if name.strip()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("CNNLAB_DATA"))
    parser.add_argument("--study", default="imbalance,augment")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--variants", default="", help="only these variants (default: all)")
    parser.add_argument("--out", type=Path, default=Path("runs-breadth"))
    args = parser.parse_args()
    if not args.data_dir:
        parser.error("--data-dir (or CNNLAB_DATA) must name the folder with cifar10-jpg.tar.gz")
    seeds = [int(s) for s in args.seeds.split(",")]
    known = set(IMBALANCE) | set(AUGMENT)
    unknown = sorted(variant_names(args.variants) - known)
    if unknown:
        parser.error(f"--variants: unknown {unknown}; expected some of {sorted(known)}")
    rows = []
    print("| study | variant | seed | train images | test acc | balanced acc | train s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for study, variant, extra in studies(args):
        for seed in seeds:
            name = _slug(f"{study}-{variant}-s{seed}")
            command = [*BASE, *extra, "--epochs", str(args.epochs), "--seed", str(seed)]
            result = run_one(args.out, name, command, args.data_dir)
            rows.append((study, variant, result))
            print(
                f"| {study} | {variant} | {seed} | {result['train_images']} | "
                f"{result['accuracy']:.4f} | {result['balanced']:.4f} | "
                f"{result['seconds']:.0f} |",
                flush=True,
            )
    print(f"\nMeans over seeds {args.seeds}, {args.epochs} epochs:\n")
    print("| study | variant | test acc | balanced acc |")
    print("| --- | --- | ---: | ---: |")
    for study, variant, _ in studies(args):
        mine = [r for s, v, r in rows if (s, v) == (study, variant)]
        accuracy = statistics.mean(r["accuracy"] for r in mine)
        balanced = statistics.mean(r["balanced"] for r in mine)
        print(f"| {study} | {variant} | {accuracy:.4f} | {balanced:.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
