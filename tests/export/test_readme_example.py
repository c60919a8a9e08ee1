"""README.md's plain-onnxruntime example runs as written on a freshly exported model."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import cnnlab

pytest.importorskip("onnxruntime")
README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE_PATH = "runs/digits/export/model.onnx"


def export_example() -> str:
    """The ```python block of README's "Exporting a model" section."""
    section = README.read_text(encoding="utf-8").split("### Exporting a model", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    assert len(blocks) == 1, "the Export section has one python example"
    return blocks[0]


def test_the_readme_onnx_example_runs(gray_run, copy_run, tmp_path):
    code = export_example()
    assert EXAMPLE_PATH in code and len(code.strip().splitlines()) <= 5
    run = copy_run(gray_run)
    model = cnnlab.export(run, out=tmp_path / "export").folder / "model.onnx"
    script = tmp_path / "example.py"
    script.write_text(code.replace(EXAMPLE_PATH, str(model)), encoding="utf-8")
    said = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert said.returncode == 0, said.stderr
    classes = [int(c) for c in re.findall(r"\d+", said.stdout)]
    assert len(classes) == 4 and all(0 <= c < 3 for c in classes)  # 3 classes: 0, 1, 7
