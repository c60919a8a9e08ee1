"""Time to accuracy: cnnlab against the hand-written reference loop, in one run (issue #9).

    python benchmarks/speed.py --data-dir DIR [--cases same-mnist,mnist-99,...] [--seeds 3]

Every training runs in its own process (a fresh interpreter, as a user would start it). The
reference is `benchmarks/reference_loop.py`; cnnlab runs `cnnlab train` / `cnnlab sweep` on
the configs named below. The table gives, per case and engine: epochs, seconds per epoch,
training images per second, the fraction of this machine's measured fp32 matmul peak those
images/s represent (6 x forward MACs per image), time to the target accuracy (training time
summed over epochs; for both engines the per-epoch test pass that finds the epoch is not
counted), process wall time, test accuracy (same-mnist: after --epochs epochs, else the
last), and the reference/cnnlab ratio of epoch time or time to target.

Cases (targets from issue #9, for a 2-core CPU):
  same-mnist   the MNIST two-conv + 1024-hidden net, Adam 1e-3, batch 64, both engines;
               cnnlab's epoch time <= 0.5x the reference's, accuracy equal within noise
  same-cifar   the shallow CIFAR-10 convnet, crop+flip, Adam 1e-3, batch 64, 2 epochs
  mnist-99     cnnlab's fast MNIST recipe: 99.0% test in <= 20 s and <= 1/8 of the
               reference's time to 99.0% (the reference runs until it gets there)
  fashion-92   cnnlab's fast Fashion-MNIST recipe: 92% test in <= 60 s
  cifar-85     cnnlab's fast CIFAR-10 recipe: 85% test in <= 240 s of training (#24)
  eval         the 10,000-image MNIST test set through the trained nets: <= 2 s
  whole-v1     what the user waits for: `cnnlab train` of the v1 net (one conv, max-pool,
               linear), one epoch on MNIST, process start to exit with evaluation, figures
               and report, beside the reference loop's whole process in the same run (issue
               #18: post-training <= 2 s, whole command <= 0.6x the reference's wall)
  mnist-99-whole  `cnnlab train configs/recipes/fast-mnist.yaml`, start to exit, report
               included: <= 10 s (#24); its start (process start to the first step) is the
               `start` row, <= 1.5 s, together with whole-v1's starts
  lr-table-quick  `cnnlab sweep configs/recipes/lr-table.yaml --quick`, 12 runs: <= 30 s
  scale        `benchmarks/storage_scale.py`: an image folder twice the memory limit trains
               with data.storage mmap, >= 0.8x the resident path's images/s (#24)
  cifar-94     (GPU) cnnlab's CIFAR-10 GPU recipe: 94% test in <= 10 s on one H100

`--device cuda` runs both engines on the GPU (the reference moves each batch there, as a
tutorial does); the peak is then the GPU's bf16 matmul rate. `--json-out FILE` keeps every
epoch's seconds and accuracy.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import whole_commands as whole

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "benchmarks" / "reference_loop.py"
CIFAR_SHALLOW = (
    "conv(32,3,pad=1) relu pool(2) conv(64,3,pad=1) relu pool(2) flatten linear(256) relu linear"
)
CASES = (
    "same-mnist", "same-cifar", "mnist-99", "fashion-92", "cifar-85", "eval", "cifar-94", "whole-v1",
    "mnist-99-whole", "lr-table-quick", "scale",
)  # fmt: skip
GPU_ONLY = ("cifar-94",)
FAST_RECIPES = {
    "mnist-99": ("configs/recipes/fast-mnist.yaml", 0.99, 20.0),
    "fashion-92": ("configs/recipes/fast-fashion-mnist.yaml", 0.92, 60.0),
    "cifar-85": ("configs/recipes/cifar10-fast.yaml", 0.85, 240.0),  # #24 (#9: 600 s)
    "cifar-94": ("configs/recipes/cifar10-gpu.yaml", 0.94, 10.0),
}


@dataclass
class Result:
    """One training process: per-epoch seconds and test accuracy, wall time, images per epoch."""

    engine: str
    seconds: list[float]
    accuracy: list[float]
    wall: float
    images: int
    macs: int | None = None  # forward MACs per image, for the fraction of peak
    eval_seconds: float | None = None
    notes: list[str] = field(default_factory=list)

    def time_to(self, target: float) -> float | None:
        """Training seconds until the first epoch whose test accuracy reaches `target`."""
        total = 0.0
        for seconds, accuracy in zip(self.seconds, self.accuracy, strict=True):
            total += seconds
            if accuracy >= target:
                return total
        return None


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def matmul_peak_gflops(threads: int, device: str, repeats: int = 10) -> float:
    """Best-of-`repeats` matrix multiply throughput: fp32 2048^2 on `threads` CPU threads, or
    bf16 8192^2 on a GPU (the dtype cnnlab trains in there)."""
    torch.set_num_threads(threads)
    cuda = device.startswith("cuda")
    size, dtype = (8192, torch.bfloat16) if cuda else (2048, torch.float32)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        a @ b
        if cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def machine_line(threads: int, device: str) -> str:
    """CPU model, threads, torch version and the device the runs use."""
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu"
    return f"machine: {cpu_model()}, {threads} threads, torch {torch.__version__}, device {name}"


def _run(command: list[str]) -> str:
    """Run `command`; its stdout, or its stderr's end in the error when it fails."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed:\n{done.stderr[-3000:]}")
    return done.stdout


def run_reference(
    data_dir: Path, dataset: str, net: str, epochs: int, seed: int, device: str, stop_at=None
):
    command = [sys.executable, str(REFERENCE), "--data-dir", str(data_dir), "--dataset", dataset,
               "--net", net, "--epochs", str(epochs), "--seed", str(seed), "--json",
               "--device", device]  # fmt: skip
    if stop_at is not None:
        command += ["--stop-at", str(stop_at)]
    started = time.perf_counter()
    output = _run(command)
    wall = time.perf_counter() - started
    rows = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return Result(
        "reference",
        [r["seconds"] for r in rows],
        [r["test_accuracy"] for r in rows],
        wall,
        rows[0]["images"] if rows else 0,
    )


def _read_run(run_dir: Path, wall: float) -> Result:
    with open(run_dir / "metrics.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    final = json.loads((run_dir / "final_metrics.json").read_text(encoding="utf-8"))
    import yaml

    from cnnlab.config import build_config
    from cnnlab.models import build_model, summarize, totals

    config_text = (run_dir / "config.yaml").read_text(encoding="utf-8")
    config = build_config(yaml.safe_load(config_text), str(run_dir / "config.yaml"))
    checkpoint = torch.load(run_dir / "best.pt", map_location="cpu", weights_only=True)
    in_shape = tuple(checkpoint["in_shape"])
    model = build_model(config.model.name, in_shape, len(checkpoint["class_names"]),
                        **config.model.options)  # fmt: skip
    macs = totals(summarize(model, in_shape))[2]
    log = (run_dir / "train.log").read_text(encoding="utf-8")
    sizes = re.search(r"^data: train (\d+)", log, re.MULTILINE)  # "data: train 60000, test ..."
    return Result(
        "cnnlab",
        [float(r["epoch_seconds"]) - float(r.get("eval_seconds") or 0) for r in rows],
        [float(r["test_accuracy"]) for r in rows],
        wall,
        int(sizes.group(1)) if sizes else 0,
        macs,
        final.get("test_eval_seconds"),
    )


def run_cnnlab_train(data_dir: Path, out: Path, device: str, overrides: list[str]) -> Result:
    """`cnnlab train --set ...` in a fresh process; per-epoch test accuracy via watch_test."""
    name = f"speed-{len(list(out.glob('*')))}"
    command = [sys.executable, "-m", "cnnlab", "train", "--quiet", "--no-report",
               "--set", f"out={out}", "--set", f"name={name}", "--set", f"data.data_dir={data_dir}",
               "--set", "train.watch_test=true", "--set", "train.monitor=train_loss",
               "--set", f"train.device={device}"]  # fmt: skip
    for item in overrides:
        command += ["--set", item]
    started = time.perf_counter()
    _run(command)
    return _read_run(out / name, time.perf_counter() - started)


def run_cnnlab_recipe(data_dir: Path, out: Path, recipe: str, seed: int, device: str) -> Result:
    """One recipe's single run via `cnnlab train` on its base config (watch_test on)."""
    import yaml

    spec = yaml.safe_load((ROOT / recipe).read_text(encoding="utf-8"))
    config_path = out / f"{Path(recipe).stem}-{seed}.yaml"
    base = spec["base"]
    if isinstance(base.get("model", {}).get("name"), str) and base["model"]["name"].endswith(
        ".yaml"
    ):
        base["model"]["name"] = str((ROOT / recipe).parent / base["model"]["name"])
    config_path.write_text(yaml.safe_dump(base), encoding="utf-8")
    name = f"speed-{len(list(out.glob('*')))}"
    command = [sys.executable, "-m", "cnnlab", "train", str(config_path), "--quiet", "--no-report",
               "--set", f"out={out}", "--set", f"name={name}", "--set", f"data.data_dir={data_dir}",
               "--set", "train.watch_test=true", "--set", f"train.seed={seed}",
               "--set", f"train.device={device}"]  # fmt: skip
    started = time.perf_counter()
    _run(command)
    return _read_run(out / name, time.perf_counter() - started)


def cifar_folder(data_dir: Path, scratch: Path) -> Path:
    """A directory holding `cifar10-jpg/` extracted, for the reference's per-sample PIL loop."""
    if (data_dir / "cifar10-jpg" / "train").is_dir():
        return data_dir
    archive = data_dir / "cifar10-jpg.tar.gz"
    target = scratch / "cifar-extracted"
    if not (target / "cifar10-jpg" / "train").is_dir():
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
    return target


def accuracy_at(result: Result, epoch: int | None) -> float | None:
    """Test accuracy after `epoch` (1-based; None = the last), or after the last one run."""
    if not result.accuracy:
        return None
    return result.accuracy[min(epoch or len(result.accuracy), len(result.accuracy)) - 1]


def row(case, result: Result, target, peak, ratio="", epoch: int | None = None) -> list[str]:
    """One table row; `epoch` picks the epoch whose accuracy is shown (default: the last)."""
    per_epoch = statistics.mean(result.seconds) if result.seconds else float("nan")
    images_per_s = result.images / per_epoch if result.images else float("nan")
    peak_text = "—"
    if result.macs and result.images:
        peak_text = f"{6 * result.macs * images_per_s / 1e9 / peak:.1%}"
    reached = result.time_to(target) if target else None
    accuracy = accuracy_at(result, epoch)
    return [
        case, result.engine, str(len(result.seconds)), f"{per_epoch:.1f}", f"{images_per_s:,.0f}",
        peak_text, "—" if not target else (f"{reached:.1f}" if reached else "not reached"),
        f"{result.wall:.1f}", "—" if accuracy is None else f"{accuracy:.4f}", ratio,
    ]  # fmt: skip


def print_same_model_summary(case: str, results: list[Result], epochs: int) -> None:
    """Mean and spread over seeds of each engine's accuracy after `epochs`, and the mean
    reference/cnnlab epoch-time ratio: the 'equal accuracy, at most half the time' check."""
    by_engine: dict[str, list[Result]] = {}
    for result in results:
        by_engine.setdefault(result.engine, []).append(result)
    if set(by_engine) != {"reference", "cnnlab"}:
        return
    parts = []
    for engine, runs in by_engine.items():
        values = [a for a in (accuracy_at(r, epochs) for r in runs) if a is not None]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        parts.append(f"{engine} {statistics.mean(values):.4f} ± {spread:.4f} (n={len(values)})")
    ratios = [
        statistics.mean(ref.seconds) / statistics.mean(mine.seconds)
        for ref, mine in zip(by_engine["reference"], by_engine["cnnlab"], strict=True)
    ]
    print(
        f"{case}: test accuracy after {epochs} epochs: {'; '.join(parts)}; cnnlab epoch time "
        f"{1 / statistics.mean(ratios):.2f}x the reference's (target <= 0.5x)"
    )


def print_table(rows: list[list[str]]) -> None:
    header = ["case", "engine", "epochs", "s/epoch", "img/s", "of peak", "s to target",
              "wall s", "test acc", "ref/cnnlab"]  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=os.environ.get("CNNLAB_DATA"))
    parser.add_argument(
        "--cases", help="comma-separated, of " + ", ".join(CASES) + " (default: all for the device)"
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds for the same-model cases")
    parser.add_argument("--epochs", type=int, default=2, help="epochs for the same-model cases")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json-out", type=Path, help="also write every result here (JSON)")
    args = parser.parse_args()
    if not args.data_dir:
        print("skipped: give --data-dir or set CNNLAB_DATA")
        return 0
    gpu = args.device.startswith("cuda")
    cases = args.cases.split(",") if args.cases else [c for c in CASES if gpu or c not in GPU_ONLY]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    threads = torch.get_num_threads()
    peak = matmul_peak_gflops(threads, args.device)
    print(machine_line(threads, args.device))
    kind = "bf16 8192x8192" if gpu else "fp32 2048x2048"
    print(f"matmul peak ({kind}, best of 10): {peak:.0f} GFLOP/s\n")
    results: list[tuple[str, Result]] = []

    def emit(cells: list[str]) -> None:  # each row as it is measured, the whole table at the end
        rows.append(cells)
        print("| " + " | ".join(cells) + " |", flush=True)

    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="cnnlab-speed-") as scratch:
        out = Path(scratch)
        reference_mnist: list[Result] = []
        cnnlab_mnist: list[Result] = []
        if "same-mnist" in cases or "mnist-99" in cases or "eval" in cases:
            for seed in range(args.seeds if "same-mnist" in cases else 1):
                reference = run_reference(args.data_dir, "mnist", "two_conv_hidden_relu_dropout",
                                          5, seed, args.device, stop_at=0.99)  # fmt: skip
                reference_mnist.append(reference)
                mine = run_cnnlab_train(args.data_dir, out, args.device, [
                    "data.dataset=mnist", "model.name=" + str(ROOT / "configs/models/mnist_v4_relu_dropout.yaml"),
                    "optim.optimizer=adam", "optim.lr=1e-3", "train.batch_size=64",
                    f"train.epochs={args.epochs}", f"train.seed={seed}",
                ])  # fmt: skip
                cnnlab_mnist.append(mine)
                results += [("same-mnist", reference), ("same-mnist", mine)]
                ratio = statistics.mean(reference.seconds) / statistics.mean(mine.seconds)
                emit(row(f"same-mnist s{seed}", reference, 0.99, peak, epoch=args.epochs))
                emit(row(f"same-mnist s{seed}", mine, 0.99, peak, f"{ratio:.1f}x epoch"))
        if "same-cifar" in cases:
            folder = cifar_folder(args.data_dir, out)
            for seed in range(args.seeds):
                reference = run_reference(
                    folder, "cifar10", "cifar_shallow", args.epochs, seed, args.device
                )
                mine = run_cnnlab_train(args.data_dir, out, args.device, [
                    "data.dataset=cifar10", "data.augment=crop4,flip", "model.name=spec",
                    f"model.options={{spec: '{CIFAR_SHALLOW}'}}", "optim.optimizer=adam",
                    "optim.lr=1e-3", "train.batch_size=64", f"train.epochs={args.epochs}",
                    f"train.seed={seed}",
                ])  # fmt: skip
                results += [("same-cifar", reference), ("same-cifar", mine)]
                ratio = statistics.mean(reference.seconds) / statistics.mean(mine.seconds)
                emit(row(f"same-cifar s{seed}", reference, None, peak))
                emit(row(f"same-cifar s{seed}", mine, None, peak, f"{ratio:.1f}x epoch"))
        for case, (recipe, target, budget) in FAST_RECIPES.items():
            if case not in cases:
                continue
            mine = run_cnnlab_recipe(args.data_dir, out, recipe, 0, args.device)
            results.append((case, mine))
            ratio = ""
            reached = mine.time_to(target)
            if case == "mnist-99" and reference_mnist and reached:
                times = [r.time_to(target) for r in reference_mnist if r.time_to(target)]
                if times:
                    ratio = f"{statistics.mean(times) / reached:.1f}x to target"
            verdict = "met" if reached is not None and reached <= budget else "NOT met"
            emit(row(f"{case} (<= {budget:.0f} s: {verdict})", mine, target, peak, ratio))
            if case == "mnist-99":
                cnnlab_mnist.append(mine)
        starts: list[float] = []
        if "whole-v1" in cases and not gpu:

            def reference(seed: int) -> Result:
                return run_reference(args.data_dir, "mnist", "v1", 1, seed, "cpu")

            pairs = whole.whole_command_rows(reference, args.data_dir, out, args.seeds)
            for ref, mine in pairs:
                results.append(("whole-v1", ref))
                starts.append(mine.startup)
        if "mnist-99-whole" in cases:
            for seed in range(args.seeds):
                mine = whole.run_fast_mnist(args.data_dir, out)
                starts.append(mine.startup)
                emit([f"mnist-99-whole s{seed} (<= 10 s: {whole.verdict('mnist-99-whole', mine.wall)})",
                      "cnnlab", "1", f"{mine.training:.1f}", "", "", "", f"{mine.wall:.1f}",
                      f"{mine.accuracy:.4f}", f"start {mine.startup:.2f} s, post {mine.post:.2f} s"])  # fmt: skip
        if starts:
            median = statistics.median(starts)
            emit([f"start, median of {len(starts)} (<= 1.5 s: {whole.verdict('start', median)})",
                  "cnnlab", "", "", "", "", "", f"{median:.2f}", "",
                  f"{min(starts):.2f}-{max(starts):.2f} s"])  # fmt: skip
        if "lr-table-quick" in cases:
            wall, runs = whole.run_lr_table_quick(out)
            emit([f"lr-table-quick (<= 30 s: {whole.verdict('lr-table-quick', wall)})", "cnnlab",
                  "", "", "", "", "", f"{wall:.1f}", "", f"{runs} runs"])  # fmt: skip
        if "scale" in cases and not gpu:
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "storage_scale.py")],
                           check=True)  # prints its own table  # fmt: skip
        if "eval" in cases:
            for result in cnnlab_mnist:
                if result.eval_seconds is not None:
                    verdict = "met" if result.eval_seconds <= 2.0 else "NOT met"
                    emit(["eval (<= 2 s: " + verdict + ")", "cnnlab", "", "", "", "", "",
                                 f"{result.eval_seconds:.2f}", "", ""])  # fmt: skip
    print_table(rows)
    for case in ("same-mnist", "same-cifar"):
        print_same_model_summary(case, [r for c, r in results if c == case], args.epochs)
    if args.json_out:
        records = [{"case": case, **vars(result)} for case, result in results]
        args.json_out.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
