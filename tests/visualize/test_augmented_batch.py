"""The augmented-batch preview: the batch the model trained on first, drawn the same way by a
run (figures/augmented_batch.png) and by `cnnlab data preview` before any training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.cli import main
from cnnlab.config import load_experiments
from cnnlab.data.configured import load_configured
from cnnlab.data.mixing import first_batch, training_loader
from cnnlab.errors import DataFormatError
from cnnlab.experiment.engine import train
from cnnlab.training import loop
from cnnlab.visualize.augmented_batch import plot_augmented_batch, target_title
from cnnlab.visualize.figure_table import FIGURES, caption

SETTINGS = [
    "data.dataset=mnist-sample",
    "data.classes=[0,1,7]",
    "data.per_class=8",
    "data.offline=true",
    "data.augment=crop2,flip",
    "data.mixup=0.4",
    "data.cutmix=1.0",
    "model.name=conv1",
    "train.epochs=1",
    "train.batch_size=16",
    "train.device=cpu",
]


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """A reported run with augmentation and mixing, and the first batch its loop trained on."""
    out = tmp_path_factory.mktemp("mixed")
    config = load_experiments(None, [*SETTINGS, f"out={out}", "name=run"])[0]
    seen = []
    original = loop.train_step

    def spy(context, images, targets):
        seen.append((images.clone(), targets.clone()))
        return original(context, images, targets)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "train_step", spy)
        result = train(config, quiet=True, report=True)
    return config, result.run_dir, seen[0]


def test_the_replayed_first_batch_is_the_one_the_model_trained_on(mixed_run):
    config, _, (images, targets) = mixed_run
    dataset = load_configured(config.data, config.train.seed)
    loader = training_loader(
        dataset.split("train"), config.data, 3, batch_size=16, seed=config.train.seed
    )
    replayed, soft = first_batch(loader, 3)
    assert torch.equal(replayed, images) and torch.equal(soft, targets)
    assert soft.shape == (16, 3)


def test_a_run_draws_the_preview_and_the_cli_draws_the_same_picture(mixed_run, tmp_path, capsys):
    config, run_dir, _ = mixed_run
    drawn = run_dir / "figures" / "augmented_batch.png"
    with Image.open(drawn) as image:
        width, height = image.size  # 16 images: a 4 x 4 grid of 28-pixel digits, enlarged
    assert 400 <= width <= 1200 and 300 <= height <= 1200
    out = tmp_path / "sub" / "preview.png"
    overrides = [arg for setting in SETTINGS for arg in ("--set", setting)]
    assert main(["data", "preview", *overrides, "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_bytes() == drawn.read_bytes()  # the same pixels before and after training


def test_the_report_states_the_mixing_and_captions_the_preview(mixed_run):
    _, run_dir, _ = mixed_run
    report = (run_dir / "report.md").read_text()
    mixing = "MixUp (α = 0.4) or CutMix (α = 1), one per batch (p = 1/2)"
    assert f"| batch mixing | {mixing}" in report
    assert "augmentation: a random crop after 2 pixels of zero padding" in report
    assert f"mixing: {mixing}" in report  # the figure's caption, from the run's config


def test_captions_with_and_without_a_config():
    assert caption("augmented_batch") == FIGURES["augmented_batch"].caption
    plain = caption("augmented_batch", {"data": {"augment": ""}})
    assert plain.endswith("augmentation: none: training images are used as they are; mixing: none")
    assert "unreadable here" in caption("augmented_batch", {"data": {"mixup": "lots"}})


def test_titles_name_one_class_or_both_with_their_weights():
    names = ["zero", "one", "seven"]
    assert target_title(np.array([0.0, 0.0, 1.0]), names) == "seven"
    assert target_title(np.array([0.38, 0.0, 0.62]), names) == "seven .62 / zero .38"
    assert target_title(np.array([0.5, 0.5, 0.0]), names) == "zero .50 / one .50"


def test_the_plot_checks_its_shapes_and_draws_gray_and_colour():
    names = ["a", "b"]
    figure = plot_augmented_batch(np.random.rand(3, 3, 8, 8), np.eye(2)[[0, 1, 1]], names, "x")
    assert figure.get_size_inches()[0] >= 4.0
    with pytest.raises(DataFormatError, match=r"targets \(N, 2\)"):
        plot_augmented_batch(np.random.rand(3, 1, 8, 8), np.ones((3, 3)) / 3, names)


def test_the_cli_refuses_a_bad_alpha_and_a_compare_list(tmp_path, capsys):
    out = tmp_path / "never.png"
    assert main(["data", "preview", "--set", "data.cutmix=nan", "--out", str(out)]) == 1
    assert capsys.readouterr().err.startswith(
        "cnnlab: error: config: data.cutmix: expected a finite"
    )
    spec = tmp_path / "two.yaml"
    spec.write_text("compare:\n  - {name: a}\n  - {name: b}\n")
    assert main(["data", "preview", str(spec), "--out", str(out)]) == 1
    assert "data preview takes one experiment" in capsys.readouterr().err
    assert not out.exists()
