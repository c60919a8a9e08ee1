"""`cnnlab predict` on images unlike the training data (warnings, --invert) and the leaderboard
format of `predict` and `eval`, on a real 1-epoch run over all ten digits of mnist-sample."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli import eval_cmd, main
from cnnlab.config import load_experiments
from cnnlab.data import load_dataset
from cnnlab.data.input_stats import InputStats, input_stats, measure_images
from cnnlab.data.profile import pixel_statistics
from cnnlab.evaluate import FORMATS, InputMismatchWarning, predict, run_data
from cnnlab.evaluate.input_check import input_warnings
from cnnlab.experiment.engine import train
from cnnlab.runs import RunDir, load_run
from cnnlab.runs.predictions import read_predictions


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """conv1 on all ten digits of mnist-sample, 10 per class, 1 epoch."""
    out = tmp_path_factory.mktemp("digits")
    config = load_experiments(None, [
        "data.dataset=mnist-sample", "data.per_class=10", "data.offline=true",
        "model.name=conv1", "train.epochs=1", "train.device=cpu", f"out={out}", "name=d",
    ])[0]  # fmt: skip
    return train(config, quiet=True, report=False).run_dir


@pytest.fixture(scope="module")
def test_digits():
    return load_dataset("mnist-sample").split("test")


def write_pngs(folder, images, names):
    folder.mkdir(parents=True, exist_ok=True)
    for image, name in zip(images, names, strict=True):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0]).save(folder / name)
    return folder


def predict_cli(capsys, run, images, out, *flags):
    """(exit code, stdout, stderr) of `cnnlab predict` through the real entry point."""
    code = main(["predict", str(run), "--images", str(images), "--out", str(out), *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows(path):
    with open(path, newline="") as stream:
        return list(csv.reader(stream))


def test_training_saves_the_training_images_input_stats(digits_run):
    stats = RunDir(digits_run).read_input_stats()
    train_images = run_data(load_run(digits_run)).split("train").images  # 100 < the sample limit
    minimum, maximum, mean, std = pixel_statistics(train_images)
    assert stats.images == len(train_images) == 100
    assert (stats.channels, stats.image_size, stats.original_size) == (1, (28, 28), (28, 28))
    assert stats.pixel_mean == pytest.approx(tuple(mean)) and stats.pixel_std == pytest.approx(
        tuple(std)
    )
    assert (stats.pixel_min, stats.pixel_max) == (tuple(minimum), tuple(maximum))
    assert stats.image_mean == pytest.approx(train_images.mean())
    assert stats.dark_background > 0.9 and stats.light_background < 0.1  # MNIST: white on black


def test_inverted_digits_warn_and_name_invert(digits_run, test_digits, tmp_path, capsys):
    images = test_digits.images[:6]
    normal = write_pngs(tmp_path / "normal", images, [f"{i}.png" for i in range(6)])
    inverted = write_pngs(tmp_path / "inverted", 255 - images, [f"{i}.png" for i in range(6)])

    code, _, err = predict_cli(capsys, digits_run, inverted, tmp_path / "a.csv")
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("cnnlab: warning:")]
    assert len(warnings) == 1 and "light background" in warnings[0]
    assert "--invert" in warnings[0] and "6 of 6 images" in warnings[0]

    code, _, err = predict_cli(capsys, digits_run, inverted, tmp_path / "b.csv", "--invert")
    assert code == 0 and "cnnlab: warning" not in err
    code, _, err = predict_cli(capsys, digits_run, normal, tmp_path / "c.csv")
    assert code == 0 and "cnnlab: warning" not in err
    # --invert gives the model exactly the normal digits back
    back, plain = read_predictions(tmp_path / "b.csv"), read_predictions(tmp_path / "c.csv")
    np.testing.assert_allclose(back.probabilities, plain.probabilities)

    code, _, err = predict_cli(capsys, digits_run, normal, tmp_path / "d.csv", "--invert")
    assert "light background" in err and "drop --invert" in err  # what the model was given


def test_resized_photos_say_the_size_they_came_from(digits_run, test_digits, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(test_digits.images[i, 0]).resize((320, 200)).save(folder / f"{i}.png")
    code, _, err = predict_cli(capsys, digits_run, folder, tmp_path / "p.csv")
    assert code == 0
    (warning,) = [line for line in err.splitlines() if "resized" in line]
    assert "3 of 3 images" in warning and "from 320x200" in warning and "were 28x28" in warning


def test_a_run_without_input_stats_is_not_checked(digits_run, test_digits, tmp_path, capsys):
    import shutil

    run = shutil.copytree(digits_run, tmp_path / "old")
    RunDir(run).input_stats_path.unlink()
    inverted = write_pngs(tmp_path / "inv", 255 - test_digits.images[:3], ["a.png", "b.png", "c.png"])  # fmt: skip
    code, out, err = predict_cli(capsys, run, inverted, tmp_path / "x.csv")
    assert code == 0 and "wrote 3 predictions" in out
    assert "cnnlab: warning" not in err
    (note,) = err.splitlines()
    assert note.startswith("cnnlab: note:") and "no input_stats.json" in note


def test_a_damaged_input_stats_file_is_an_error_naming_it(digits_run, test_digits, tmp_path, capsys):  # fmt: skip
    import shutil

    run = shutil.copytree(digits_run, tmp_path / "damaged")
    path = RunDir(run).input_stats_path
    data = json.loads(path.read_text())
    folder = write_pngs(tmp_path / "imgs", test_digits.images[:2], ["a.png", "b.png"])
    for broken in ("{not json", json.dumps({**data, "image_mean": "dark"}), json.dumps([1])):
        path.write_text(broken)
        code, _, err = predict_cli(capsys, run, folder, tmp_path / "x.csv")
        assert code == 1 and err.startswith("cnnlab: error:") and "input_stats.json" in err
        assert "Traceback" not in err


def test_the_python_api_warns_with_a_category(digits_run, test_digits):
    with pytest.warns(InputMismatchWarning, match="--invert"):
        predict(digits_run, 255 - test_digits.images[:4])
    with pytest.warns(InputMismatchWarning, match="drop --invert"):
        predict(digits_run, test_digits.images[:4], invert=True)
    floats = test_digits.images[:4].astype(np.float32) / 255
    inverted = [p for _, _, p in predict(digits_run, 1 - floats, invert=True)]
    plain = [p for _, _, p in predict(digits_run, test_digits.images[:4])]
    np.testing.assert_allclose(np.stack(inverted), np.stack(plain), atol=1e-6)


def gray_stats(images, original=(28, 28)):
    return input_stats(images, original)


def test_photos_have_no_polarity_and_low_contrast_is_said():
    rng = np.random.default_rng(0)
    base = rng.integers(40, 216, (40, 1, 1, 1))  # each photo its own brightness
    noise = rng.integers(-40, 41, (40, 3, 16, 16))  # and no consistent background
    photos = np.clip(base + noise, 0, 255).astype(np.uint8)
    stats = gray_stats(photos, None)
    assert stats.dark_background < 0.9 and stats.light_background < 0.9
    light = np.full((5, 3, 16, 16), 200, np.uint8)
    light[:, :, 4:12, 4:12] = 60  # dark centres on a light border
    assert not any("background" in m for m in input_warnings(stats, light, list("abcde")))
    flat = np.full((4, 3, 16, 16), 120, np.uint8)
    flat[:, :, 8, 8] = 140  # 20 levels of contrast against ~80 in training
    (message,) = input_warnings(stats, flat, ["w", "x", "y", "z"])
    assert "low contrast" in message and "4 of 4" in message


def test_one_odd_image_among_many_is_not_a_mismatch(test_digits):
    stats = gray_stats(test_digits.images[:200])
    batch = test_digits.images[200:210].copy()
    batch[0] = 255 - batch[0]
    assert input_warnings(stats, batch, [str(i) for i in range(10)]) == []
    assert measure_images(batch).border_minus_centre[0] > 0 > measure_images(batch).border_minus_centre[1]  # fmt: skip


def test_input_stats_round_trip_through_the_run_dir(tmp_path, test_digits):
    stats = gray_stats(test_digits.images[:50], None)
    run = RunDir(tmp_path)
    run.write_input_stats(stats)
    assert run.read_input_stats() == stats
    assert isinstance(stats, InputStats) and stats.original_size is None


# -- leaderboard ---------------------------------------------------------------------------


def test_predict_leaderboard_on_a_dataset_is_id_label_in_test_file_order(
    digits_run, test_digits, tmp_path, capsys
):
    out = tmp_path / "submission.csv"
    code, stdout, _ = predict_cli(
        capsys, digits_run, "mnist-sample", out, "--format", "leaderboard"
    )
    assert code == 0 and "(leaderboard)" in stdout
    table = rows(out)
    assert table[0] == ["id", "label"]
    assert [row[0] for row in table[1:]] == [str(i) for i in range(len(test_digits))]
    assert all(row[1].isdigit() and 0 <= int(row[1]) < 10 for row in table[1:])
    full = tmp_path / "full.csv"
    assert predict_cli(capsys, digits_run, "mnist-sample", full)[0] == 0
    expected = read_predictions(full).predicted
    assert [int(row[1]) for row in table[1:]] == expected.tolist()
    assert out.read_text().count("\n") == len(test_digits) + 1  # no extra columns or lines


def test_predict_leaderboard_on_a_folder_is_sorted_file_names(digits_run, test_digits, tmp_path, capsys):  # fmt: skip
    names = ["b.png", "a.png", "sub/c.png", "a2.png"]
    folder = write_pngs(tmp_path / "imgs", test_digits.images[:4], names)
    out = tmp_path / "lb.csv"
    assert predict_cli(capsys, digits_run, folder, out, "--format", "leaderboard")[0] == 0
    table = rows(out)
    assert table[0] == ["id", "label"]
    assert [row[0] for row in table[1:]] == ["a.png", "a2.png", "b.png", "sub/c.png"]
    full = tmp_path / "full.csv"
    assert predict_cli(capsys, digits_run, folder, full)[0] == 0
    assert [int(row[1]) for row in table[1:]] == read_predictions(full).predicted.tolist()


def test_eval_writes_leaderboard_csv_beside_predictions(digits_run, tmp_path, capsys):
    import shutil

    run = shutil.copytree(digits_run, tmp_path / "run")
    assert main(["eval", str(run), "--format", "leaderboard"]) == 0
    assert "leaderboard.csv" in capsys.readouterr().out
    table = rows(run / "leaderboard.csv")
    predictions = read_predictions(run / "predictions.csv")  # still the full file
    assert table[0] == ["id", "label"]
    assert [int(r[0]) for r in table[1:]] == list(predictions.ids)
    assert [int(r[1]) for r in table[1:]] == predictions.predicted.tolist()


def test_a_class_subset_run_refuses_a_leaderboard(gray_run, tmp_path, capsys):
    code, _, err = predict_cli(
        capsys, gray_run, "mnist-sample", tmp_path / "x.csv", "--format", "leaderboard"
    )
    assert code == 1 and err.startswith("cnnlab: error:") and "data.classes" in err
    assert not (tmp_path / "x.csv").exists()


def test_the_cli_offers_every_output_format():
    assert eval_cmd.FORMAT_CHOICES == tuple(FORMATS)
