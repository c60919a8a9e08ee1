"""The HTML report in a real headless Chromium: every image decodes, nothing errs, nothing is fetched.

Chromium is driven through the DevTools protocol over `--remote-debugging-pipe` (JSON
messages ended by a NUL byte on file descriptors 3 and 4), with the standard library only.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnlab.report import write_comparison, write_report
from cnnlab.report.figures import Curve, curves_figure, save_png


def find_chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (neither /usr/bin/chromium nor `chromium` on PATH; "
    "Debian: apt-get install -y chromium), so the HTML report is not opened in a browser",
)
TIMEOUT = 60.0  # seconds for one protocol exchange; chromium's first start can be slow
# puts the pipe ends the parent passes on fds 3 and 4, where chromium expects them, then execs it
TRAMPOLINE = """
import fcntl, os, sys
read, write = (fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3])
os.dup2(read, 3)
os.dup2(write, 4)
for fd in {read, write, *map(int, sys.argv[1:3])} - {3, 4}:
    os.close(fd)
os.execv(sys.argv[3], sys.argv[3:])
"""


class DevTools:
    """A headless chromium and its DevTools pipe; events are kept in `events` as they arrive."""

    def __init__(self, profile: Path) -> None:
        self._log_path = profile.with_name(profile.name + "-stderr.log")  # a file never fills up
        self._log = self._log_path.open("wb")
        to_browser_read, self._write = os.pipe()
        self._read, from_browser_write = os.pipe()
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--remote-debugging-pipe",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                TRAMPOLINE,
                str(to_browser_read),
                str(from_browser_write),
                CHROMIUM,
                *flags,
            ],
            pass_fds=(to_browser_read, from_browser_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._read], [], [], max(remaining, 0))
            if not ready:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                stderr = self._log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"chromium closed its DevTools pipe; stderr:\n{stderr}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send a command and return its result, keeping the events that arrive meanwhile."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        """The first event named `method` (one already received counts)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            found = next((e for e in self.events if e.get("method") == method), None)
            if found:
                return found
            self.events.append(self._receive(deadline))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._read)
        os.close(self._write)
        self._log.close()


@dataclass
class PageCheck:
    """What the browser saw: per image its decoded width (0 = broken), errors, requested URLs."""

    widths: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


DECODE_IMAGES = """
Promise.all(Array.from(document.images, image =>
  image.decode().then(() => image.naturalWidth, () => 0)))
"""


def open_page(path: Path, profile: Path) -> PageCheck:
    """Load `path` in a fresh headless chromium and report its images, errors and requests."""
    browser = DevTools(profile)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page", "Network"):
            browser.call(f"{domain}.enable", session=session)
        browser.call("Page.navigate", {"url": path.resolve().as_uri()}, session)
        browser.wait_for("Page.loadEventFired")
        widths = browser.call(
            "Runtime.evaluate",
            {"expression": DECODE_IMAGES, "awaitPromise": True, "returnByValue": True},
            session,
        )["result"]["value"]
        browser.call("Runtime.evaluate", {"expression": "1"}, session)  # flush pending events
    finally:
        browser.close()
    check = PageCheck(widths=widths)
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            check.errors.append(" ".join(str(a.get("value", a)) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            check.errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            check.errors.append(f"{params['entry']['text']} ({params['entry'].get('url', '')})")
        elif method == "Network.requestWillBeSent":
            check.requests.append(params["request"]["url"])
    return check


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_gray_run):
    """A real tiny run with a validation split and figures: two PNGs and an SVG-only one."""
    root = tmp_path_factory.mktemp("browser")
    run_dir = make_gray_run(root, "run", "train.epochs=3", "train.batch_size=64")
    figures = run_dir / "figures"
    loss = curves_figure([Curve("train", [1, 2, 3], [1.0, 0.7, 0.5])], "Loss", "loss")
    save_png(loss, figures / "loss.png")
    matrix = Figure(figsize=(3, 3))
    matrix.add_subplot().imshow(np.arange(9).reshape(3, 3), cmap="Blues")
    save_png(matrix, figures / "confusion_matrix.png")
    svg = Figure(figsize=(3, 2))
    svg.add_subplot().plot([0, 1], [0, 1])
    svg.savefig(figures / "roc.svg", format="svg")
    return run_dir


def test_report_opens_in_chromium_with_every_image_decoded(run, tmp_path):
    html = write_report(run)[1]
    check = open_page(html, tmp_path / "profile")
    assert len(check.widths) == 3 and all(width > 0 for width in check.widths), check.widths
    assert check.errors == []
    fetched = [url for url in check.requests if not url.startswith("data:")]
    assert fetched == [html.resolve().as_uri()]  # the page itself and nothing else


def test_comparison_opens_in_chromium(run, tmp_path):
    html = write_comparison([run, run], tmp_path / "comparison")[1]
    check = open_page(html, tmp_path / "profile")
    assert len(check.widths) == 2 and min(check.widths) > 0 and check.errors == []


def test_the_check_sees_broken_images_and_errors(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title></head><body>'
        '<img src="missing.png"><img src="http://example.com/x.png">'
        '<script>console.error("broken on purpose")</script></body></html>'
    )
    check = open_page(page, tmp_path / "profile")
    assert check.widths == [0, 0]
    assert "broken on purpose" in check.errors
    assert any("missing.png" in error for error in check.errors)
    assert "http://example.com/x.png" in check.requests
