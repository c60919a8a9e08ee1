"""`cnnlab serve`'s JSON API on a folder of tiny runs: every endpoint, the live curves, and the
refusals (ids that leave the folder, bad figure names, bad or oversized uploads, unfinished runs)."""

from __future__ import annotations

import base64
import io
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from cnnlab.cli import main  # noqa: E402
from cnnlab.evaluate import predict  # noqa: E402
from cnnlab.runs import RunDir  # noqa: E402
from cnnlab.serve import app as app_module  # noqa: E402
from cnnlab.serve.app import create_app  # noqa: E402
from cnnlab.serve.predict import MAX_BYTES  # noqa: E402

TRAIN = ["--dataset", "mnist-sample", "--set", "data.per_class=8", "--epochs", "2"]
TRAIN += ["--device", "cpu", "--quiet", "--set", "data.val=10"]
SWEPT = "grid/runs/conv1-seed0"  # a run nested in a sweep folder
RESULTS = "| run | test accuracy |\n| --- | --- |\n| conv1-seed0 | 0.5 |\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A runs folder: a finished run, one nested in a sweep folder (with its results.md), a
    'running' run, and a symlink to a run outside the folder."""
    root = tmp_path_factory.mktemp("served") / "runs"
    assert main(["train", *TRAIN, "--out", str(root), "--name", "lone", "--no-report"]) == 0
    assert main(["train", *TRAIN, "--out", str(root / "grid/runs"), "--name", "conv1-seed0"]) == 0
    (root / "grid" / "results.md").write_text(RESULTS, encoding="utf-8")
    finished, live = RunDir(root / "lone"), RunDir(root / "live")
    live.path.mkdir()
    live.write_config(finished.read_config())
    live.write_status("running", epoch=1)
    live.write_epochs(finished.read_epochs()[:1])
    outside = root.parent / "outside"
    shutil.copytree(root / "lone", outside)
    (root / "escape").symlink_to(outside, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def client(runs) -> TestClient:
    return TestClient(create_app(runs))


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels (its data is one tiny deflate stream)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))


def digit() -> np.ndarray:
    """A 28x28 light-on-dark stroke, like the sample's digits."""
    pixels = np.zeros((28, 28), np.uint8)
    pixels[4:24, 12:16] = 255
    return pixels


def test_runs_lists_every_run_nested_ones_too(client, runs):
    answer = client.get("/api/runs").json()
    rows = {row["id"]: row for row in answer["runs"]}
    assert answer["runs_dir"] == str(runs)
    assert set(rows) == {"lone", SWEPT, "live"}  # the symlink leading outside is not listed
    metrics = RunDir(runs / SWEPT).read_test_metrics()
    swept = rows[SWEPT]
    assert swept["sweep"] == "grid" and rows["lone"]["sweep"] is None
    assert swept["test_accuracy"] == metrics["accuracy"]
    assert swept["test_f1_macro"] == metrics["f1_macro"]
    assert (swept["status"], swept["epochs_done"], swept["epochs_planned"]) == ("finished", 2, 2)
    assert swept["model"] == "conv1" and swept["dataset"] == "mnist-sample"
    assert swept["train_seconds"] > 0
    val = [r["val_accuracy"] for r in RunDir(runs / SWEPT).read_epochs()]
    assert swept["best_val_accuracy"] == max(val)
    assert rows["live"]["status"] == "running" and rows["live"]["test_accuracy"] is None


def test_a_row_is_read_again_when_its_files_change(tmp_path, runs):
    root = tmp_path / "runs"
    shutil.copytree(runs / "lone", root / "one")
    client = TestClient(create_app(root))
    assert client.get("/api/runs").json()["runs"][0]["status"] == "finished"
    run = RunDir(root / "one")
    run.write_status("interrupted", epoch=2)
    later = run.status_path.stat().st_mtime + 5
    os.utime(run.status_path, (later, later))  # a new mtime even on coarse clocks
    assert client.get("/api/runs").json()["runs"][0]["status"] == "interrupted"
    shutil.rmtree(root / "one")
    assert client.get("/api/runs").json()["runs"] == []


def test_run_details(client, runs):
    answer = client.get("/api/run", params={"run": SWEPT}).json()
    run = RunDir(runs / SWEPT)
    assert answer["id"] == SWEPT and answer["summary"]["id"] == SWEPT
    assert answer["config"] == run.read_config_data()
    assert answer["status"] == run.read_status()
    assert answer["metrics"]["accuracy"] == run.read_test_metrics()["accuracy"]
    assert answer["class_names"] == [str(k) for k in range(10)]
    assert [c["class"] for c in answer["per_class"]] == answer["class_names"]
    assert set(answer["per_class"][0]) == {"class", "precision", "recall", "f1", "support"}
    assert answer["figures"] == sorted(p.stem for p in run.figures.glob("*.png"))
    assert "loss" in answer["figures"] and answer["in_shape"] == [1, 28, 28]
    bare = client.get("/api/run", params={"run": "live"}).json()  # no metrics, no figures
    assert (bare["metrics"], bare["per_class"], bare["figures"]) == (None, [], [])


def test_history_from_an_offset(client, runs):
    answer = client.get("/api/history", params={"run": SWEPT, "epochs_from": 1}).json()
    assert [row["epoch"] for row in answer["epochs"]] == [2]
    assert answer["status"] == "finished" and answer["epochs_planned"] == 2
    iterations = RunDir(runs / SWEPT).read_iterations()
    got = client.get("/api/history", params={"run": SWEPT, "iterations_from": 2}).json()
    assert len(got["iterations"]) == len(iterations) - 2
    assert client.get("/api/history", params={"run": SWEPT, "epochs_from": -1}).status_code == 400


def test_history_sees_a_new_epoch_of_a_running_run(client, runs):
    live = RunDir(runs / "live")
    first = client.get("/api/history", params={"run": "live"}).json()
    assert first["status"] == "running" and len(first["epochs"]) == 1
    rows = live.read_epochs()
    live.write_epochs([*rows, {**rows[-1], "epoch": 2, "train_loss": 0.25}])
    new = client.get("/api/history", params={"run": "live", "epochs_from": 1}).json()
    assert [(r["epoch"], r["train_loss"]) for r in new["epochs"]] == [(2, 0.25)]


def test_figure(client, runs):
    answer = client.get("/api/figure", params={"run": SWEPT, "name": "loss"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.content == (RunDir(runs / SWEPT).figures / "loss.png").read_bytes()


@pytest.mark.parametrize("name", ["../loss", "figures/loss", "a\\b", "..", ".hidden", "nope"])
def test_figure_names_that_are_not_plain_are_refused(client, name):
    answer = client.get("/api/figure", params={"run": SWEPT, "name": name})
    assert answer.status_code == 404 and repr(name) in answer.json()["detail"]


def test_compare_with_a_sweep_table(client, runs):
    answer = client.get("/api/compare", params=[("run", "lone"), ("run", SWEPT)]).json()
    assert [row["id"] for row in answer["runs"]] == ["lone", SWEPT]
    assert answer["curves"]["lone"]["epochs"] == RunDir(runs / "lone").read_epochs()
    assert answer["sweep_tables"] == {"grid": RESULTS}
    assert client.get("/api/compare").status_code == 400  # no run named


BAD_IDS = [
    "../outside",
    "/etc",
    "%2e%2e/outside",
    "grid/../../outside",
    "a\\b",
    "a\x00b",
    "escape",
    "nope",
    "",
]


@pytest.mark.parametrize("run", BAD_IDS)
@pytest.mark.parametrize("endpoint", ["/api/run", "/api/history", "/api/figure"])
def test_ids_outside_the_folder_or_unknown_are_404(client, endpoint, run):
    answer = client.get(endpoint, params={"run": run, "name": "loss"})
    assert answer.status_code == 404
    assert answer.json()["detail"]


def test_predict_agrees_with_cnnlab_predict(client, runs, tmp_path):
    image = tmp_path / "digit.png"
    image.write_bytes(png(digit()))
    answer = client.post(
        "/api/predict",
        params={"run": SWEPT},
        files={"image": ("digit.png", image.read_bytes(), "image/png")},
        data={"k": "3"},
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    [(_, name, probabilities)] = predict(runs / SWEPT, image)
    assert found["top"][0]["class"] == name
    assert [t["index"] for t in found["top"]] == list(np.argsort(-probabilities)[:3])
    assert [t["probability"] for t in found["top"]] == pytest.approx(
        sorted(probabilities, reverse=True)[:3]
    )
    pictures = [
        found["gradcam_png"],
        found["input_png"],
        *(f["png"] for f in found["feature_maps"]),
    ]
    for picture in pictures:
        assert Image.open(io.BytesIO(base64.b64decode(picture))).format == "PNG"
    shown = Image.open(io.BytesIO(base64.b64decode(found["input_png"])))
    assert shown.width % 28 == 0 and shown.width >= 28  # the 28x28 input, zoomed
    assert [f["layer"] for f in found["feature_maps"]] == ["net.conv"]  # conv1 has one conv
    assert found["milliseconds"] > 0 and isinstance(found["warnings"], list)


def test_predict_inverted_dark_on_light_warns_without_invert(client):
    upload = {"image": ("paper.png", png(255 - digit()), "image/png")}
    plain = client.post("/api/predict", params={"run": "lone"}, files=upload).json()
    inverted = client.post(
        "/api/predict", params={"run": "lone"}, files=upload, data={"invert": "true"}
    ).json()
    assert plain["warnings"] and len(inverted["warnings"]) < len(plain["warnings"])


@pytest.mark.parametrize(
    ("data", "code", "said"),
    [
        (b"\0" * (MAX_BYTES + 1), 413, "5 MB"),
        (b"this is not an image", 400, "cannot decode"),
        (huge_png_header(100_000, 100_000), 400, "100000x100000"),
        (huge_png_header(5000, 10), 400, "4096"),
    ],
    ids=["oversized", "not-an-image", "too-many-pixels", "too-wide"],
)
def test_predict_refuses_bad_uploads(client, data, code, said):
    answer = client.post(
        "/api/predict", params={"run": "lone"}, files={"image": ("x.png", data, "image/png")}
    )
    assert answer.status_code == code and said in answer.json()["detail"]


@pytest.mark.parametrize(
    ("run", "form", "code"),
    [
        ("live", {}, 409),  # still running: no predictions yet
        ("nope", {}, 404),
        ("../outside", {}, 404),
        ("lone", {"k": "0"}, 400),
        ("lone", {"k": "many"}, 400),
        ("lone", {"invert": "maybe"}, 400),
    ],
)
def test_predict_refusals(client, run, form, code):
    upload = {"image": ("digit.png", png(digit()), "image/png")}
    answer = client.post("/api/predict", params={"run": run}, files=upload, data=form)
    assert answer.status_code == code and answer.json()["detail"]


def test_predict_without_an_image_field(client):
    answer = client.post("/api/predict", params={"run": "lone"}, data={"k": "1"})
    assert answer.status_code == 400 and "'image'" in answer.json()["detail"]


def test_pages_are_served_from_static_or_said_missing(client, tmp_path, monkeypatch):
    monkeypatch.setattr(app_module, "STATIC", tmp_path)
    (tmp_path / "index.html").write_text("<title>runs</title>", encoding="utf-8")
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.text == "<title>runs</title>"
    missing = client.get("/try", params={"run": "lone"})
    assert missing.status_code == 404 and "try.html" in missing.json()["detail"]


@pytest.mark.parametrize("query", ["run=%2e%2e%2foutside", "run=%252e%252e%252foutside", "run=%00"])
def test_encoded_traversal_in_the_raw_url_is_404(client, query):
    assert client.get(f"/api/run?{query}").status_code == 404
