"""Every damaged run file on every verb that reads runs: a `cnnlab: error:` naming the file
(exit 1), or the verb recovers (exit 0) — never a traceback (#19)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cnnlab.cli import main

FILES = (
    "config.yaml", "status.json", "final_metrics.json", "metrics.json", "metrics.csv",
    "iterations.csv", "predictions.csv", "best.pt", "last.pt", "input_stats.json",
)  # fmt: skip
VERBS = ("resume", "eval", "report", "predict")
FIGURE_FILES = ("config.yaml", "metrics.json", "metrics.csv", "iterations.csv", "predictions.csv",
                "best.pt")  # what `cnnlab figures` reads (eval draws figures too)  # fmt: skip
DAMAGE = b"\x00\x01{not what it claims [\xff\xfe\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("damaged")
    code = main([
        "train", "--dataset", "mnist-sample", "--classes", "0,1", "--per-class", "8",
        "--model", "fc_only", "--epochs", "1",
        "--device", "cpu", "--offline", "--out", str(out), "--name", "run", "--quiet",
        "--no-report",
    ])  # fmt: skip
    assert code == 0
    images = out / "images"
    images.mkdir()
    shutil.copy(Path(__file__).parent.parent / "fixtures" / "legacy-run-0.1" / "README.md",
                images / "not-an-image.txt")  # fmt: skip
    return out


def command(verb: str, run: Path, out: Path) -> list[str]:
    return {
        "resume": ["train", "--resume", str(run), "--quiet", "--no-report"],
        "eval": ["eval", str(run)],
        "report": ["report", str(run)],
        "figures": ["figures", str(run)],
        "predict": ["predict", str(run), "--images", "mnist-sample", "--out", str(out)],
    }[verb]


CASES = [(verb, name) for verb in VERBS for name in FILES]
CASES += [("figures", name) for name in FIGURE_FILES]


@pytest.mark.parametrize(("verb", "name"), CASES)
def test_a_damaged_file_gives_a_clear_error_or_is_recovered_from(
    trained, tmp_path, capsys, verb, name
):
    run = Path(shutil.copytree(trained / "run", tmp_path / "run"))
    (run / name).write_bytes(DAMAGE)
    code = main(command(verb, run, tmp_path / "p.csv"))  # any other exception fails the test
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code != 0:
        assert code == 1 and err.startswith("cnnlab: error:"), err
        assert name in err or str(run) in err, err  # it names the file (or the run)
