"""The pages of `cnnlab serve` in a real browser (the system Chromium through Playwright) against
the real app over two tiny trained runs: the runs table sorts, a run page draws a point per
epoch and follows a running run, compare overlays runs, and a drawing on the try-it canvas is
predicted with probabilities and a Grad-CAM image. Skipped where Chromium or Playwright is
missing."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(f"no system Chromium at {CHROMIUM}", allow_module_level=True)
pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from cnnlab.cli import main  # noqa: E402
from cnnlab.runs import RunDir  # noqa: E402
from cnnlab.serve.app import create_app  # noqa: E402

RUNS = ("alpha", "beta")
TIMEOUT_MS = 10_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    """Two finished runs of 2 epochs on 8 images per class of mnist-sample."""
    runs = tmp_path_factory.mktemp("served") / "runs"
    for seed, name in enumerate(RUNS):
        argv = ["train", "--dataset", "mnist-sample", "--set", "data.per_class=8", "--epochs", "2",
                "--device", "cpu", "--seed", str(seed), "--out", str(runs), "--name", name,
                "--quiet"]  # fmt: skip
        assert main(argv) == 0
    return runs


@pytest.fixture(scope="module")
def base_url(runs_dir):
    """The real app served by uvicorn from a background thread on 127.0.0.1."""
    port = _free_port()
    config = uvicorn.Config(create_app(runs_dir), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


def _names(page) -> list[str]:
    return page.locator("#runs-table tbody tr td:nth-child(2)").all_inner_texts()


def test_runs_table_lists_and_sorts_the_runs(page, base_url):
    page.goto(base_url + "/")
    page.wait_for_selector("#runs-table tbody tr[data-id='beta']")
    assert sorted(_names(page)) == list(RUNS)
    page.click("th[data-key='name']")
    assert _names(page) == ["alpha", "beta"]
    assert page.get_attribute("th[data-key='name']", "aria-sort") == "ascending"
    page.click("th[data-key='name']")
    assert _names(page) == ["beta", "alpha"]
    page.fill("#filter", "alp")
    assert _names(page) == ["alpha"]


def test_run_names_are_shown_as_text_never_as_markup(page, base_url, runs_dir):
    weird = "<b>bold<img src=x onerror=boom()>"  # no "/": one folder
    shutil.copytree(runs_dir / "alpha", runs_dir / weird)
    try:
        page.goto(base_url + "/")
        page.wait_for_selector("#runs-table tbody tr >> nth=2")
        assert weird in _names(page)
        assert page.locator("#runs-table b, #runs-table img").count() == 0
    finally:
        shutil.rmtree(runs_dir / weird)


def test_run_page_draws_a_point_per_epoch_and_the_run_s_figures(page, base_url):
    page.goto(base_url + "/run?run=alpha")
    loss = page.wait_for_selector("figure.chart[data-title='loss per epoch'][data-points='2']")
    assert loss.query_selector("canvas") is not None
    assert page.inner_text("#progress") == "epoch 2 / 2"
    page.wait_for_selector("#per-class tbody tr")
    assert page.locator("#per-class tbody tr").count() == 10  # the ten digits
    figure = page.wait_for_selector("#figures img[alt='confusion_matrix']")
    figure.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=figure)
    assert page.get_attribute("#try-link", "href") == "/try?run=alpha"
    canvas = "figure.chart[data-title='loss per epoch'] canvas"
    wide = page.eval_on_selector(canvas, "c => c.getBoundingClientRect().width")
    page.set_viewport_size({"width": 700, "height": 900})  # the charts follow the window
    page.wait_for_function(
        f'() => document.querySelector("{canvas}").getBoundingClientRect().width < {wide}'
    )


def test_run_page_follows_a_running_run(page, base_url, runs_dir):
    """Epoch rows appended through `RunDir` while the status is running reach the open page."""
    live = RunDir(runs_dir / "live")
    shutil.copytree(runs_dir / "alpha", live.path)
    try:
        rows = live.read_epochs()
        iterations = live.read_iterations()
        live.write_status("running", epoch=1)
        live.write_epochs(rows[:1])
        live.write_iterations([r for r in iterations if r["epoch"] == 1])
        page.goto(base_url + "/run?run=live")
        page.wait_for_selector("body[data-status='running'][data-epochs='1']")
        assert page.locator("#try-link").count() == 0
        more = [dict(rows[-1], epoch=epoch) for epoch in (3, 4)]
        live.write_epochs(rows + more)
        live.write_iterations(iterations)
        page.wait_for_selector("figure.chart[data-title='loss per epoch'][data-points='4']")
        assert page.inner_text("#progress").startswith("epoch 4 /")
        live.write_status("finished", epoch=4)
        page.wait_for_selector("body[data-status='finished']")
        page.wait_for_selector("#try-link")
    finally:
        shutil.rmtree(live.path)


def test_compare_follows_a_running_run(page, base_url, runs_dir):
    """The compare page redraws while a compared run trains, and stops once all settle."""
    live = RunDir(runs_dir / "live-compare")
    shutil.copytree(runs_dir / "alpha", live.path)
    try:
        rows = live.read_epochs()
        live.write_status("running", epoch=1)
        live.write_epochs(rows[:1])
        page.goto(base_url + "/compare?run=live-compare")
        page.wait_for_selector("figure.chart[data-title='train loss'][data-points='1']")
        live.write_epochs(rows + [dict(rows[-1], epoch=3)])
        page.wait_for_selector("figure.chart[data-title='train loss'][data-points='3']")
        live.write_status("finished", epoch=3)
    finally:
        shutil.rmtree(live.path)


def test_compare_overlays_the_selected_runs(page, base_url):
    page.goto(base_url + "/")
    page.wait_for_selector("#runs-table tbody tr[data-id='beta']")
    for name in RUNS:
        page.check(f"tr[data-id='{name}'] input[type=checkbox]")
    page.click("#compare")
    page.wait_for_url("**/compare?run=*")
    page.wait_for_selector("#compare-table tbody tr >> nth=1")
    assert page.locator("#compare-table tbody tr").count() == 2
    chart = page.wait_for_selector("figure.chart[data-title='train loss']")
    assert chart.query_selector_all(".u-legend .u-series") and "beta" in chart.inner_text()


def test_a_drawing_is_predicted_with_probabilities_and_grad_cam(page, base_url):
    page.goto(base_url + "/try?run=alpha")
    page.wait_for_selector("#about:has-text('white on black')")
    box = page.locator("#pad").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):  # a vertical stroke, as a "1" is drawn
        page.mouse.move(x, y + step * box["height"] * 0.06)
    page.mouse.up()
    lit = page.evaluate(
        "() => { const c = document.getElementById('pad');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] > 128; return 4 * n / d.length; }"
    )
    assert 0.02 < lit < 0.5, f"the stroke lit {lit:.1%} of the black canvas"
    page.click("#predict")
    page.wait_for_selector("#bars .bar-row")
    assert page.locator("#bars .bar-row").count() == 5
    shares = [float(t.rstrip("%")) for t in page.locator("#bars .bar-value").all_inner_texts()]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 100.5
    for alt in ("Grad-CAM", "the preprocessed input"):
        image = page.locator(f"#output img[alt='{alt}']")
        assert image.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
