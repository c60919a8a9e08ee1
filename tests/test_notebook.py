"""examples/quickstart.ipynb: committed without outputs, and runs headless from top to bottom."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "examples" / "quickstart.ipynb"


def test_notebook_is_committed_without_outputs():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert len(code) >= 8
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)


def _kernel_or_skip() -> None:
    """Skip unless nbclient can start the `python3` kernel on this very interpreter."""
    for module in ("nbclient", "nbformat", "ipykernel"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e '.[dev]')")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip("no `python3` Jupyter kernel spec found (ipykernel ships one)")
    # jupyter_client runs a spec's bare `python`/`python3` as sys.executable
    major, minor = sys.version_info[:2]
    bare = {"python", f"python{major}", f"python{major}.{minor}"}
    if spec.argv[0] not in bare and Path(spec.argv[0]).resolve() != Path(sys.executable).resolve():
        pytest.skip(
            f"the `python3` kernel spec in {spec.resource_dir} runs {spec.argv[0]}, "
            f"not this interpreter {sys.executable}"
        )


def _outputs(cell) -> str:
    """Every output of a cell as one string: streams' text and each display's data."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts += [str(value) for value in output.get("data", {}).values()]
    return "\n".join(parts)


def _cell(nb, text: str):
    return next(cell for cell in nb.cells if cell.cell_type == "code" and text in cell.source)


@pytest.mark.slow
def test_quickstart_notebook_runs_headless(tmp_path, monkeypatch):
    _kernel_or_skip()
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("CNNLAB_REPO", str(REPO))  # the kernel inherits this environment
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error

    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    said = "\n".join(_outputs(cell) for cell in nb.cells if cell.cell_type == "code")
    assert "TqdmWarning" not in said and "IProgress not found" not in said
    table = _cell(nb, "cnnlab.runs_table(results)").outputs[-1].data
    assert "<table>" in table["text/html"]
    assert "quickstart-fc_only" in table["text/html"] and "quickstart-conv1" in table["text/html"]
    assert "net.conv" in _cell(nb, "summary_table(").outputs[-1].data["text/html"]
    gallery = _cell(nb, "show_figures(").outputs[-1].data["text/html"]
    assert gallery.count("data:image/png;base64,") == 4
    assert "image/png" in _cell(nb, "plot_confusion(").outputs[-1].data  # a Figure, inline
    assert _outputs(_cell(nb, "cnnlab.predict(")).count("predicted") == 8
    runs = tmp_path / "runs"
    assert (runs / "quickstart-comparison" / "comparison.html").is_file()
    assert (runs / "quickstart-conv1" / "report.html").is_file()
    assert f"comparison report: {Path('runs') / 'quickstart-comparison'}" in _outputs(nb.cells[-1])
