"""The web app over a runs folder: four static pages and a JSON API (see the serve contract).

Everything is read from the run directories on each request (through `RunDir`), with the
runs table's rows and the loaded models cached by file mtimes; no state outside the app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from cnnlab.errors import CnnlabError
from cnnlab.runs import RunDir
from cnnlab.runs.rundir import json_safe
from cnnlab.serve.paths import NotFound, figure_file, resolve_run
from cnnlab.serve.predict import (
    MAX_BYTES,
    BadUpload,
    ModelCache,
    NotReady,
    TooLarge,
)
from cnnlab.serve.runs_index import RunsIndex, sweep_folder, sweep_name

STATIC = Path(__file__).parent / "static"
PAGES = {"/": "index.html", "/run": "run.html", "/compare": "compare.html", "/try": "try.html"}
ERROR_CODES = {NotFound: 404, BadUpload: 400, TooLarge: 413, NotReady: 409}
FORM_SLACK = 64 * 1024  # bytes of a multipart body besides the image itself
RESULTS_MD = "results.md"  # a sweep's results table (written by `cnnlab sweep`)


def create_app(runs_dir: Path, listing_cache: Path | None = None) -> FastAPI:
    """The app serving the runs under `runs_dir` (a folder that exists); with `listing_cache`,
    the runs table's rows are kept in that file for the next start."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise CnnlabError(f"runs folder {runs_dir} does not exist (expected a folder of runs)")
    index = RunsIndex(runs_dir, listing_cache)
    models = ModelCache()
    app = FastAPI(title="cnnlab", docs_url=None, redoc_url=None)
    app.state.index = index  # `serve` reads every row once in the background at start
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")

    @app.exception_handler(CnnlabError)
    async def cnnlab_error(request: Request, error: CnnlabError) -> JSONResponse:
        code = next((c for kind, c in ERROR_CODES.items() if isinstance(error, kind)), 500)
        return JSONResponse({"detail": str(error)}, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        said = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'][1:])}: {e['msg']}" for e in error.errors()
        )
        return JSONResponse({"detail": f"bad request: {said}"}, status_code=400)

    for route, page in PAGES.items():
        app.add_api_route(route, _page_route(page), methods=["GET"], include_in_schema=False)

    def run_path(run: str) -> Path:
        return resolve_run(index.runs_dir, run)

    @app.get("/api/runs")
    def api_runs() -> JSONResponse:  # as is: the rows are JSON already (no encoder pass)
        return JSONResponse({"runs_dir": str(runs_dir), "runs": index.rows()})

    @app.get("/api/run")
    def api_run(run: str) -> dict[str, Any]:
        path = run_path(run)
        return json_safe(run_details(index, path))

    @app.get("/api/history")
    def api_history(
        run: str, epochs_from: int = Query(0, ge=0), iterations_from: int = Query(0, ge=0)
    ) -> dict[str, Any]:
        folder = RunDir(run_path(run))
        row = index.row(folder.path)
        return json_safe(
            {
                "epochs": folder.read_epochs()[epochs_from:],
                "iterations": folder.read_iterations()[iterations_from:],
                "status": row["status"],
                "epochs_planned": row["epochs_planned"],
            }
        )

    @app.get("/api/figure")
    def api_figure(run: str, name: str) -> FileResponse:
        path = figure_file(RunDir(run_path(run)).figures, name)
        return FileResponse(path, media_type="image/png")

    @app.get("/api/compare")
    def api_compare(run: Annotated[list[str], Query()]) -> dict[str, Any]:
        paths = [run_path(one) for one in run]
        rows = [index.row(path) for path in paths]
        curves = {
            row["id"]: {"epochs": RunDir(p).read_epochs()}
            for row, p in zip(rows, paths, strict=True)
        }
        tables = {}
        for path in paths:
            folder = sweep_folder(index.runs_dir, path)
            if folder is not None and (folder / RESULTS_MD).is_file():
                text = (folder / RESULTS_MD).read_text(encoding="utf-8", errors="replace")
                tables[sweep_name(index.runs_dir, folder)] = text
        return json_safe({"runs": rows, "curves": curves, "sweep_tables": tables})

    @app.post("/api/predict")
    async def api_predict(request: Request, run: str) -> dict[str, Any]:
        path = run_path(run)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BYTES + FORM_SLACK:
            raise TooLarge(
                f"upload of {int(length):,} bytes, over the limit of {MAX_BYTES:,} (5 MB)"
            )
        form = await request.form(max_files=1, max_fields=4)
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise BadUpload("expected the image as a file in the multipart field 'image'")
        data = await upload.read(MAX_BYTES + 1)
        inverted = _flag(form.get("invert", "false"), "invert")
        k = _count(form.get("k", "5"), "k")
        name = upload.filename or "image"
        return await run_in_threadpool(models.predict, path, data, name, inverted=inverted, k=k)

    return app


def run_details(index: RunsIndex, path: Path) -> dict[str, Any]:
    """/api/run's answer: the summary row, config, status, test metrics and figure names."""
    folder = RunDir(path)
    metrics = folder.read_test_metrics()
    per_class = [
        {key: entry.get(key) for key in ("class", "precision", "recall", "f1", "support")}
        for entry in (metrics or {}).get("per_class", [])
        if isinstance(entry, dict)
    ]
    stats = folder.read_input_stats()
    figures = (
        sorted(p.stem for p in folder.figures.glob("*.png")) if folder.figures.is_dir() else []
    )
    row = index.row(path)
    return {
        "id": row["id"],
        "summary": row,
        "config": folder.read_config_data(),
        "status": folder.read_status(),
        "metrics": metrics,
        "per_class": per_class,
        "figures": figures,
        "class_names": [str(entry["class"]) for entry in per_class],
        "in_shape": None if stats is None else [stats.channels, *stats.image_size],
    }


def _page_route(page: str):
    """A route answering with static/`page`, or 404 saying the page is not installed."""

    def serve_page() -> FileResponse:
        path = STATIC / page
        if not path.is_file():
            raise NotFound(f"page {page} is not installed (looked for {path})")
        return FileResponse(path, media_type="text/html")

    return serve_page


def _flag(value: Any, field: str) -> bool:
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0", "on", "off", ""):
        raise BadUpload(f"form field {field}={value!r}: expected true or false")
    return text in ("true", "1", "on")


def _count(value: Any, field: str) -> int:
    text = str(value).strip()
    if not text.isdigit():
        raise BadUpload(f"form field {field}={value!r}: expected a whole number")
    return int(text)
