"""The report's Model section shows the code the user wrote (kept in the run), the spec, or the
module listing; its Preprocessing section says what happens to an image before the network."""

from __future__ import annotations

import pytest

from cnnlab.data.augment import AugmentSpec
from cnnlab.data.configured import image_folder_rule
from cnnlab.data.images import RESIZE_RULES
from cnnlab.report import write_report
from cnnlab.runs import RunDir, load_run

USER_MODEL = '''"""A linear classifier, written by the user."""
from torch import nn


class Linear(nn.Module):
    def __init__(self, in_shape, num_classes):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc = nn.Linear(in_shape[0] * in_shape[1] * in_shape[2], num_classes)

    def forward(self, x):  # the user's marker comment
        return self.fc(self.flat(x))
'''
SPEC = "# my spec\n- conv: {out: 4, k: 3}\n- relu\n- flatten\n- linear\n"


def section(md: str, title: str) -> str:
    return md.split(f"## {title}\n")[1].split("\n## ")[0]


@pytest.fixture(scope="module")
def user_run(tmp_path_factory, make_gray_run):
    """A run of a model from the user's file; the file is edited after training."""
    root = tmp_path_factory.mktemp("user_model")
    path = root / "mynet.py"
    path.write_text(USER_MODEL)
    run = make_gray_run(root, "user", f"model.name={path}:Linear", "train.epochs=1")
    path.write_text(USER_MODEL.replace("the user's marker comment", "edited since"))
    return run


def test_a_user_model_run_keeps_its_code_and_the_report_shows_it(user_run):
    run = RunDir(user_run)
    assert run.model_source_path("python").read_text() == USER_MODEL
    saved = run.read_model_source()
    assert saved.kind == "python" and saved.text == USER_MODEL
    md = section(write_report(user_run)[0].read_text(), "Model")
    assert "(kept as `model_source.py`):" in md
    assert "```python\n" + USER_MODEL.rstrip("\n") + "\n```" in md
    assert "| fc | Linear |" in md  # the layer table still comes first
    assert "edited since" not in md


def test_the_code_is_shown_when_the_users_file_is_gone(user_run, copy_run, tmp_path):
    run = copy_run(user_run)
    (user_run.parent / "mynet.py").rename(tmp_path / "moved.py")
    try:
        md = section(write_report(run)[0].read_text(), "Model")
    finally:
        (tmp_path / "moved.py").rename(user_run.parent / "mynet.py")
    assert "Model summary not available: best.pt:" in md and "does not exist" in md
    assert "```python\n" + USER_MODEL.rstrip("\n") + "\n```" in md


def test_a_spec_model_shows_its_spec_text(tmp_path, make_gray_run):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(SPEC)
    run = make_gray_run(tmp_path, "spec", f"model.name={spec}", "train.epochs=1")
    spec.unlink()  # the report needs the copy, not the file
    assert RunDir(run).read_model_source().kind == "spec"
    md = section(write_report(run)[0].read_text(), "Model")
    assert "The layer spec as it was when the run trained (kept as `model_spec.yaml`):" in md
    assert "```yaml\n" + SPEC.rstrip("\n") + "\n```" in md


def test_a_registry_model_shows_its_module_listing(gray_run, copy_run):
    run = copy_run(gray_run)
    assert RunDir(run).read_model_source() is None
    md = section(write_report(run)[0].read_text(), "Model")
    assert "`conv1` is a built-in model (`cnnlab models`); its PyTorch modules:" in md
    listing = md.split("```text\n")[1].split("\n```")[0]
    assert listing == str(load_run(run).model)
    assert "Normalize(mean=[" in listing and "Conv2d(1, 32" in listing


def test_a_user_model_without_a_kept_copy_says_so(user_run, copy_run):
    run = copy_run(user_run)
    RunDir(run).model_source_path("python").unlink()  # as in runs trained before the copy
    md = section(write_report(run)[0].read_text(), "Model")
    assert "was not kept in this run" in md and "```text\nClassifier(" in md


def test_preprocessing_of_an_image_folder_run(rgb_run, copy_run, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    run = copy_run(rgb_run)
    md = section(write_report(run)[0].read_text(), "Preprocessing")
    model = load_run(run).model
    mean, std = model.normalize.statistics()
    assert "| input | 3×16×16 (channels × height × width), pixels / 255 in [0, 1] |" in md
    assert "mean [" + ", ".join(f"{v:.4f}" for v in mean) + "]" in md
    assert "std [" + ", ".join(f"{v:.4f}" for v in std) + "]" in md
    assert "(the train split's statistics, measured when training started)" in md
    assert "| image folder decoding | decoded to 1 channel if every image is grayscale" in md
    assert RESIZE_RULES["crop"] in md
    assert "| augmentation | none: training images are used as they are |" in md


def test_preprocessing_names_the_augmentation_and_test_time_flips(tmp_path, make_gray_run):
    run = make_gray_run(
        tmp_path, "aug", "data.augment=crop2,flip,cutout4", "model.tta_flip=true", "train.epochs=1"
    )
    md = section(write_report(run)[0].read_text(), "Preprocessing")
    assert "image folder decoding" not in md  # mnist-sample is no image folder
    assert "a random crop after 2 pixels of zero padding" in md
    assert "a random horizontal flip (probability 1/2)" in md and "`crop2,flip,cutout4`" in md
    assert "each image and its mirror image, predictions averaged (model.tta_flip)" in md


def test_rules_in_words():
    assert image_folder_rule("mnist") is None
    rule = image_folder_rule("imagefolder:pets", 64, 3)
    assert "data.image_size = 64" in rule and "data.channels = 3" in rule
    assert AugmentSpec().describe().startswith("none")
    assert "±3 pixels" in AugmentSpec(translate=3).describe()
