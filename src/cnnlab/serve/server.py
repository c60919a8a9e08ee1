"""Running the app with uvicorn: the `serve` extra checked first, the URL printed, and a
warning when the host lets other machines in."""

from __future__ import annotations

import hashlib
import importlib
import ipaddress
import sys
import threading
from pathlib import Path

from cnnlab.data.locate import cache_root
from cnnlab.errors import CnnlabError

INSTALL = "pip install 'cnnlab[serve]'"
# pyproject's `serve` extra: package -> its import names (python-multipart's was `multipart`)
EXTRA = {
    "fastapi": ("fastapi",),
    "uvicorn": ("uvicorn",),
    "python-multipart": ("python_multipart", "multipart"),
}
LOOPBACK_NAMES = ("localhost",)


def require_extra() -> None:
    """Import the `serve` extra's packages now, or raise one error naming the missing ones."""
    missing = [package for package, names in EXTRA.items() if not any(map(_imports, names))]
    if missing:
        raise CnnlabError(
            f"cnnlab serve needs {', '.join(missing)}, which is not installed: {INSTALL}"
        )


def _imports(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host` (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_of(host: str, port: int) -> str:
    """The address to open in a browser."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/"


def listing_cache(runs_dir: Path) -> Path:
    """Where the runs table of `runs_dir` is kept between starts (under the cnnlab cache)."""
    digest = hashlib.sha256(str(Path(runs_dir).resolve()).encode()).hexdigest()[:16]
    return cache_root() / "serve" / f"runs-{digest}.json"


def serve(runs_dir: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the runs under `runs_dir` at http://host:port/ until interrupted."""
    require_extra()
    if not 0 < port < 65536:
        raise CnnlabError(f"--port {port}: expected a port number from 1 to 65535")
    import uvicorn

    from cnnlab.serve.app import create_app

    app = create_app(Path(runs_dir), listing_cache(Path(runs_dir)))
    # a first listing parses every config.yaml (~1 ms each); do it while the browser opens
    threading.Thread(target=app.state.index.rows, name="cnnlab-serve-index", daemon=True).start()
    print(f"serving the runs in {Path(runs_dir).resolve()} at {url_of(host, port)}")
    if not is_loopback(host):
        print(
            f"warning: --host {host} is not a loopback address: anyone on the network who can "
            f"reach this machine can see these runs and upload images (use 127.0.0.1 to keep "
            f"them private)",
            file=sys.stderr,
        )
    uvicorn.run(app, host=host, port=port, log_level="warning")
