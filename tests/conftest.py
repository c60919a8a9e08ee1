"""Shared fixtures: tiny trained runs, made once per test session, and a local file server.

The runs are shared, so treat them as read-only: a test that writes into a run (evaluate,
figures, report) copies it first with `copy_run`. The RGB run's data is an image folder, and
loading an image folder writes its decoded cache under $CNNLAB_CACHE (a session folder, never
the user's home); a test that loads it again should point CNNLAB_CACHE at its tmp_path
(`monkeypatch.setenv`).
"""

from __future__ import annotations

import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.config import load_experiments
from cnnlab.experiment.engine import train

GRAY_CLASSES = ("0", "1", "7")
RGB_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"
)  # fmt: skip
RGB_SIZE = 16  # (H, W) of the RGB run's images
GRAY_DATA = ("data.dataset=mnist-sample", "data.classes=[0,1,7]", "data.per_class=20")


@pytest.fixture(autouse=True, scope="session")
def cache_outside_home(tmp_path_factory):
    """Point $CNNLAB_CACHE at a session folder, so that decoded image folders and inflated
    IDX copies of the tests' tmp datasets never pile up in the user's ~/.cache/cnnlab; a test
    that needs its own cache still sets it with monkeypatch."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNLAB_CACHE", str(tmp_path_factory.mktemp("cnnlab-cache")))
        yield


@pytest.fixture(autouse=True)
def denormals_back_on():
    """Training in-process flushes denormal floats for speed (`training.device.configure_cpu`,
    a process-wide switch); switch it back after each test so later tests see IEEE floats."""
    yield
    torch.set_flush_denormal(False)


@pytest.fixture
def serve_files(tmp_path):
    """`serve_files({name: bytes})` serves those files over HTTP on 127.0.0.1 and returns the
    base URL (ending in /); every server stops when the test ends. No network is used."""
    servers = []

    def serve(files: dict[str, bytes]) -> str:
        root = tmp_path / f"served{len(servers)}"
        root.mkdir()
        for name, data in files.items():
            (root / name).write_bytes(data)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sweep_run_fails_at(monkeypatch):
    """`sweep_run_fails_at(lr, error)`: inside sweeps, the run with `optim.lr == lr` raises
    `error` instead of training; every other run trains as usual."""
    from cnnlab.sweep import runner

    real_train = runner.experiment.train

    def fail_at(lr: float, error: Exception) -> None:
        def train(config, **kwargs):
            if config.optim.lr == lr:
                raise error
            return real_train(config, **kwargs)

        monkeypatch.setattr(runner.experiment, "train", train)

    return fail_at


def tiny_run(out: Path, name: str, *overrides: str) -> Path:
    """Train a 2-epoch conv1 run on the CPU into `out/name`; returns its directory."""
    config = load_experiments(
        None,
        [
            "data.offline=true", "model.name=conv1", "train.epochs=2", "train.batch_size=16",
            "train.device=cpu", f"out={out}", f"name={name}", *overrides,
        ],
    )[0]  # fmt: skip
    return train(config, quiet=True, report=False).run_dir


@pytest.fixture(scope="session")
def make_gray_run():
    """A factory for modules that train runs of their own: `tiny_run` on digits 0, 1, 7 of
    the sample (20 per class) with a 9-image validation split; later overrides win."""

    def make(out: Path, name: str, *overrides: str) -> Path:
        return tiny_run(out, name, *GRAY_DATA, "data.val=9", *overrides)

    return make


def write_rgb_folder(root: Path, per_class: dict[str, int], seed: int = 0) -> Path:
    """An image folder of RGB PNGs: `root/<split>/<class>/<n>.png`, each class its own colour."""
    rng = np.random.default_rng(seed)
    for split, count in per_class.items():
        for k, name in enumerate(RGB_CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            colour = np.array([(37 * k) % 256, (91 * k) % 256, (173 * k) % 256])  # (3,)
            for n in range(count):
                noise = rng.integers(-40, 41, (RGB_SIZE, RGB_SIZE, 3))  # (H, W, 3)
                pixels = np.clip(colour + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels, "RGB").save(folder / f"{n:02d}.png")
    return root


@pytest.fixture(scope="session")
def gray_run(tmp_path_factory) -> Path:
    """A 3-class grayscale run: conv1 on mnist-sample digits 0, 1, 7 (20 per class, 2 epochs)."""
    out = tmp_path_factory.mktemp("gray_runs")
    return tiny_run(out, "gray", *GRAY_DATA)


@pytest.fixture(scope="session")
def rgb_folder(tmp_path_factory) -> Path:
    """A 10-class RGB image folder of 16x16 PNGs: 6 train and 3 test images per class."""
    return write_rgb_folder(tmp_path_factory.mktemp("rgb_data"), {"train": 6, "test": 3})


@pytest.fixture(scope="session")
def rgb_run(tmp_path_factory, rgb_folder) -> Path:
    """A 10-class RGB run: conv1 on `rgb_folder` (2 epochs); its cache lives beside it."""
    out = tmp_path_factory.mktemp("rgb_runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNNLAB_CACHE", str(out / "cache"))
        return tiny_run(out, "rgb", f"data.dataset=imagefolder:{rgb_folder}")


@pytest.fixture
def copy_run(tmp_path):
    """A function copying a shared run into this test's tmp_path, so the test may write to it."""

    def copy(run_dir: Path) -> Path:
        return Path(shutil.copytree(run_dir, tmp_path / "runs" / Path(run_dir).name))

    return copy
