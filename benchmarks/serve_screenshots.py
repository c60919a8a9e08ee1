"""Screenshots of the four `cnnlab serve` pages for the README (issue #22).

    python benchmarks/serve_screenshots.py [--runs DIR] [--out docs]

Without --runs it trains two small runs on the embedded mnist-sample (conv1 and fc_only, 8
epochs, a 20 % validation split) and the quick form of the mnist-three-digits sweep into a
temporary folder, serves that folder with the real app (`cnnlab.serve.app.create_app`) on
127.0.0.1, and saves serve-runs.png, serve-run.png, serve-compare.png and serve-try.png with
the system Chromium through Playwright (offline: the pages load nothing from outside).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
RUNS = {"mnist-conv1": "conv1", "mnist-fc": "fc_only"}  # run name -> model
SWEEP = "configs/recipes/mnist-three-digits.yaml"


def train_runs(runs: Path) -> None:
    """The runs the screenshots show: two lone runs and a quick sweep."""
    from cnnlab.cli import main

    for name, model in RUNS.items():
        argv = ["train", "--dataset", "mnist-sample", "--model", model, "--epochs", "8",
                "--set", "data.val=0.2", "--device", "cpu", "--out", str(runs), "--name", name,
                "--quiet"]  # fmt: skip
        if main(argv) != 0:
            sys.exit(f"training {name} failed")
    root = Path(__file__).resolve().parent.parent
    if main(["sweep", str(root / SWEEP), "--quick", "--out", str(runs)]) != 0:
        sys.exit("the quick sweep failed")


def serve(runs: Path):
    """The real app on a free port of 127.0.0.1 from a daemon thread; (url, server)."""
    import uvicorn

    from cnnlab.serve.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(runs), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            sys.exit("the server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def draw_seven(page) -> None:
    """A "7" drawn on the try-it canvas with mouse strokes."""
    page.fill("#brush", "28")  # MNIST strokes are about 3 of 28 pixels wide
    box = page.locator("#pad").bounding_box()
    at = lambda fx, fy: (box["x"] + fx * box["width"], box["y"] + fy * box["height"])  # noqa: E731
    path = [at(0.3, 0.25), at(0.7, 0.25), at(0.58, 0.5), at(0.48, 0.78)]
    page.mouse.move(*path[0])
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(path, path[1:], strict=False):
        for step in range(1, 9):
            page.mouse.move(x0 + (x1 - x0) * step / 8, y0 + (y1 - y0) * step / 8)
    page.mouse.up()


def screenshots(url: str, runs: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    sweep_ids = sorted(
        p.parent.relative_to(runs).as_posix() for p in runs.glob("*/runs/*/config.yaml")
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1280, "height": 820})
        page.goto(url + "/")
        page.wait_for_selector("#runs-table tbody tr[data-id='mnist-fc']")
        page.click("th[data-key='test_accuracy']")
        page.check("tr[data-id='mnist-conv1'] input[type=checkbox]")
        page.check("tr[data-id='mnist-fc'] input[type=checkbox]")
        page.screenshot(path=out / "serve-runs.png")

        page.set_viewport_size({"width": 1280, "height": 1300})
        page.goto(url + "/run?run=mnist-conv1")
        page.wait_for_selector("figure.chart[data-title='loss per epoch'][data-points='8']")
        page.wait_for_function("[...document.images].every(i => i.complete)")
        page.screenshot(path=out / "serve-run.png")

        ids = ["mnist-conv1", "mnist-fc", *sweep_ids[:2]]
        page.goto(url + "/compare?" + "&".join(f"run={i}" for i in ids))
        page.wait_for_selector("#compare-table tbody tr >> nth=3")
        page.wait_for_selector("figure.chart")
        page.screenshot(path=out / "serve-compare.png", full_page=True)

        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(url + "/try?run=mnist-conv1")
        page.wait_for_selector("#about:has-text('white on black')")
        draw_seven(page)
        page.click("#predict")
        page.wait_for_selector("#bars .bar-row")
        page.wait_for_function("[...document.images].every(i => i.complete)")
        page.screenshot(path=out / "serve-try.png", full_page=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, help="a runs folder to show (default: train one)")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="where the PNGs go")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        runs = args.runs
        if runs is None:
            runs = Path(scratch) / "runs"
            train_runs(runs)
        url, server = serve(runs.resolve())
        try:
            screenshots(url, runs.resolve(), args.out)
        finally:
            server.should_exit = True
    print(f"wrote serve-runs.png, serve-run.png, serve-compare.png, serve-try.png to {args.out}")


if __name__ == "__main__":
    main()
