"""`cnnlab serve`, measured: listing a folder of 1,000 runs, and the try-it prediction (issue #22).

    python benchmarks/serve_speed.py [--runs 1000] [--repeats 20] [--threads 2] [--keep DIR]
    python benchmarks/serve_speed.py --folder DIR/many   # the listing only, of a kept folder

Trains two tiny runs on the embedded mnist-sample (8 images per class, 2 epochs): `conv1`
and the MNIST two-conv net (configs/models/mnist_v2_two_conv.yaml). The conv1 run is copied
--runs times into one folder; GET /api/runs is timed on a fresh app (cold: every row read
from its files; the OS file cache is warm) and again (warm: rows from the mtime cache, median
of 5), and on a restarted app reading the listing the first one kept. POST /api/predict (a 28x28 PNG; top-5, Grad-CAM, feature maps of the first two conv
layers) is timed per model: the first call (it loads the model) and the median of --repeats
after it, end to end through the app (in-process TestClient, no network) and as the app
reports it (`milliseconds`). Prints one Markdown table.

With --folder (the `many` folder a --keep run left), only the listing is timed, with no
kept listing (a folder the server has never seen) and the index alone (`RunsIndex.rows()`
without the app), so two versions of the code can be timed in turn on the same files.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from fastapi.testclient import TestClient
from PIL import Image

from cnnlab.cli import main
from cnnlab.serve.app import create_app
from cnnlab.serve.runs_index import RunsIndex

ROOT = Path(__file__).resolve().parent.parent
MODELS = {"conv1": "conv1", "two-conv": str(ROOT / "configs/models/mnist_v2_two_conv.yaml")}
TRAIN = ["--dataset", "mnist-sample", "--set", "data.per_class=8", "--epochs", "2"]
TRAIN += ["--device", "cpu", "--quiet", "--no-report"]


def seconds(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def train_runs(folder: Path) -> dict[str, Path]:
    """One tiny run per model under `folder/models`."""
    for name, model in MODELS.items():
        code = main(
            ["train", *TRAIN, "--model", model, "--out", str(folder / "models"), "--name", name]
        )
        assert code == 0, f"training {name} failed"
    return {name: folder / "models" / name for name in MODELS}


def listing(source: Path, folder: Path, count: int) -> tuple[float, float, float, int]:
    """(cold, warm, restarted) seconds of GET /api/runs over `count` copies of run `source`,
    and rows: restarted is a fresh app reading the listing cache the first one kept."""
    many = folder / "many"
    for i in range(count):
        shutil.copytree(source, many / f"sweep-{i // 100}" / "runs" / f"run-{i:04d}")
    kept = folder / "listing.json"
    client = TestClient(create_app(many, kept))
    answer = []
    cold = seconds(lambda: answer.append(client.get("/api/runs").json()))
    warm = statistics.median(seconds(lambda: client.get("/api/runs")) for _ in range(5))
    restarted = seconds(lambda: TestClient(create_app(many, kept)).get("/api/runs"))
    return cold, warm, restarted, len(answer[0]["runs"])


def first_listing(many: Path, folder: Path) -> tuple[float, float, float, int]:
    """(first request, its CPU seconds, index alone) over the runs in `many`, none with a kept
    listing: the first request of a fresh app, then a fresh index without the app. The CPU
    time (this process's, the app's threads included) is what other jobs' load leaves alone."""
    kept = folder / "first-listing.json"
    kept.unlink(missing_ok=True)
    client = TestClient(create_app(many, kept))
    answer = []
    cpu = time.process_time()
    first = seconds(lambda: answer.append(client.get("/api/runs").json()))
    cpu = time.process_time() - cpu
    kept.unlink(missing_ok=True)
    alone = seconds(lambda: RunsIndex(many, kept).rows())
    kept.unlink(missing_ok=True)
    return first, cpu, alone, len(answer[0]["runs"])


def png_digit() -> bytes:
    pixels = np.zeros((28, 28), np.uint8)
    pixels[4:24, 12:16] = 255  # a light-on-dark stroke, like the sample's digits
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def prediction(client: TestClient, run: str, repeats: int) -> tuple[float, float, float]:
    """(first call s, median call s, median of the app's own milliseconds / 1000)."""
    upload = {"image": ("digit.png", png_digit(), "image/png")}

    def call() -> float:
        answer = client.post("/api/predict", params={"run": run}, files=upload)
        assert answer.status_code == 200, answer.text
        return answer.json()["milliseconds"] / 1000

    first = seconds(call)
    timed = []
    for _ in range(repeats):
        started = time.perf_counter()
        own = call()
        timed.append((time.perf_counter() - started, own))
    return first, statistics.median(t for t, _ in timed), statistics.median(o for _, o in timed)


def main_cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--folder", type=Path, help="time only the first listing of this folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.folder is not None:
        with tempfile.TemporaryDirectory() as work:
            first, cpu, alone, rows = first_listing(args.folder, Path(work))
        print(f"| first GET /api/runs, {rows:,} runs | {first * 1000:.0f} ms |")
        print(f"| its CPU time | {cpu * 1000:.0f} ms |")
        print(f"| RunsIndex.rows() alone, {rows:,} runs | {alone * 1000:.0f} ms |")
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="serve_speed-"))
    try:
        runs = train_runs(folder)
        cold, warm, restarted, rows = listing(runs["conv1"], folder, args.runs)
        client = TestClient(create_app(folder / "models"))
        print(f"| measure ({args.threads} threads) | value |\n| --- | --- |")
        print(f"| GET /api/runs, {rows:,} runs, cold (fresh app) | {cold * 1000:.0f} ms |")
        print(
            f"| GET /api/runs, {rows:,} runs, warm (mtime cache), median of 5 | {warm * 1000:.0f} ms |"
        )
        print(
            f"| GET /api/runs, {rows:,} runs, a restarted app (the kept listing) | "
            f"{restarted * 1000:.0f} ms |"
        )
        for name in MODELS:
            first, median, own = prediction(client, name, args.repeats)
            print(
                f"| POST /api/predict {name}: first call (loads the model) | {first * 1000:.1f} ms |"
            )
            print(
                f"| POST /api/predict {name}: median of {args.repeats} | {median * 1000:.1f} ms |"
            )
            print(
                f"| POST /api/predict {name}: the app's own `milliseconds`, median | {own * 1000:.1f} ms |"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main_cli()
