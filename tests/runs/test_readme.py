"""Every run directory gets a README.md: what the run is, its status and results, and a command
that trains it again; the command is run here exactly as written."""

from __future__ import annotations

import json
import re
import shlex
import shutil

import pytest

from cnnlab.cli import main
from cnnlab.config import load_experiments
from cnnlab.experiment.saved import evaluate
from cnnlab.runs import RunDir
from cnnlab.runs.readme import readme_markdown, refresh_readme

USER_MODEL = """from torch import nn


class Tiny(nn.Module):
    def __init__(self, in_shape, num_classes):
        super().__init__()
        self.fc = nn.Linear(in_shape[0] * in_shape[1] * in_shape[2], num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


def command_of(readme: str) -> list[str]:
    """The argv of the reproduce command in a README (the fenced bash block)."""
    (command,) = re.findall(r"```bash\n(.+?)\n```", readme, flags=re.S)
    argv = shlex.split(command)
    assert argv[0] == "cnnlab"
    return argv[1:]


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_gray_run):
    return make_gray_run(tmp_path_factory.mktemp("readme"), "first", "train.epochs=1")


def test_a_trained_run_has_a_readme_with_its_results(run):
    readme = RunDir(run).readme_path.read_text()
    metrics = json.loads((run / "metrics.json").read_text())
    final = json.loads((run / "final_metrics.json").read_text())
    assert readme.startswith("# Run `first`\n")
    assert "`conv1` trained on `mnist-sample` (classes: 0, 1, 7) for 1 epoch with adam" in readme
    assert "seed 0" in readme
    assert "Status: **finished after 1 epoch (best epoch 1)**." in readme
    assert f"| test accuracy | {metrics['accuracy']:.4f} on {metrics['num_samples']} test" in readme
    assert f"| train accuracy (evaluated weights) | {final['final_train_accuracy']:.4f}" in readme
    assert "--resume" not in readme  # a finished run is not continued


def test_the_readme_command_trains_the_same_run_again(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the command works from any directory
    argv = command_of(RunDir(run).readme_path.read_text())
    assert argv[:2] == ["train", str(run.resolve() / "config.yaml")]
    assert main(argv) == 0
    again = run.parent / "first-rerun"
    assert RunDir(again).read_status()["status"] == "finished"
    before, after = RunDir(run).read_config(), RunDir(again).read_config()
    assert after.name == "first-rerun" and (after.data, after.model) == (before.data, before.model)
    assert (after.optim, after.train) == (before.optim, before.train)
    epochs = [RunDir(path).read_epochs()[0]["train_loss"] for path in (run, again)]
    assert epochs[0] == pytest.approx(epochs[1], rel=1e-4)  # the same seed, the same training
    assert RunDir(again).readme_path.is_file()


def test_the_readme_is_updated_after_eval(run, copy_run):
    copy = copy_run(run)
    (copy / "metrics.json").unlink()
    refresh_readme(RunDir(copy))
    assert "Not evaluated yet: `cnnlab eval" in RunDir(copy).readme_path.read_text()
    metrics = evaluate(copy)
    readme = RunDir(copy).readme_path.read_text()
    assert f"| test accuracy | {metrics['accuracy']:.4f}" in readme
    assert "Not evaluated yet" not in readme


def test_an_unfinished_run_says_its_status_and_how_to_continue(tmp_path):
    config = load_experiments(None, [f"out={tmp_path}", "name=broken"])[0]
    run = RunDir(tmp_path / "broken")
    run.path.mkdir()
    run.write_config(config)
    run.write_status("failed", reason="out of memory in epoch 2", epoch=1)
    readme = RunDir(run.path).readme_path
    assert refresh_readme(run) == readme
    text = readme.read_text()
    assert "Status: **failed at epoch 1: out of memory in epoch 2**." in text
    assert f"`cnnlab train --resume {run.path.resolve()}`" in text
    assert "| test accuracy |" not in text


def test_no_readable_config_means_no_readme(tmp_path):
    run = RunDir(tmp_path)
    assert refresh_readme(run) is None and not run.readme_path.exists()
    (tmp_path / "config.yaml").write_text("data: [unclosed")
    assert refresh_readme(run) is None


def test_a_user_model_run_is_reproduced_from_its_kept_copy(tmp_path, make_gray_run, monkeypatch):
    model = tmp_path / "src" / "tiny.py"
    model.parent.mkdir()
    model.write_text(USER_MODEL)
    run = make_gray_run(tmp_path / "runs", "mine", f"model.name={model}:Tiny", "train.epochs=1")
    shutil.rmtree(model.parent)  # the user's file is gone; the run kept a copy
    readme = readme_markdown(RunDir(run))
    argv = command_of(readme)
    assert f"--model {run.resolve() / 'model_source.py'}:Tiny" in shlex.join(argv)
    assert "It trains the copy of the model's file that this run kept." in readme
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--no-report"]) == 0  # the command as written, less the figures
    again = RunDir(run.parent / "mine-rerun")
    assert again.read_status()["status"] == "finished"
    assert again.read_model_source().text == USER_MODEL
