"""evaluate_run / test_model / predict on real tiny runs, and the `eval` / `predict` verbs."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.cli import eval_cmd
from cnnlab.config import load_experiments
from cnnlab.data import load_dataset
from cnnlab.errors import CnnlabError, DataError, DataFormatError
from cnnlab.evaluate import InputMismatchWarning, evaluate_run, predict, run_data, test_model
from cnnlab.evaluate.inputs import to_gray
from cnnlab.runs import RunDir, load_run
from cnnlab.runs.predictions import read_predictions


def log_lines(run):
    return (run / "train.log").read_text().splitlines()


def test_split(run):
    return run_data(load_run(run)).split("test")


test_split.__test__ = False


def write_pngs(folder, images, names):
    """Save (N, 1, H, W) or (N, 3, H, W) uint8 images as PNGs named `names` under `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for image, name in zip(images, names, strict=True):
        pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        Image.fromarray(pixels).save(folder / name)


def digit_folder(root, digits, per_class):
    """An image folder of mnist-sample test digits: root/{train,test}/<digit>/NN.png."""
    sample = load_dataset("mnist-sample").split("test")
    for split, count in (("train", 1), ("test", per_class)):
        for digit in digits:
            images = sample.images[sample.labels == int(digit)][:count]
            write_pngs(root / split / digit, images, [f"{n:02d}.png" for n in range(count)])
    return root


def test_evaluate_run_writes_metrics_predictions_and_the_last_log_line(gray_run, copy_run):
    run = copy_run(gray_run)
    before = log_lines(run)
    metrics = evaluate_run(run)
    assert json.loads((run / "metrics.json").read_text()) == metrics
    split = test_split(run)
    assert metrics["split"] == "test" and metrics["num_samples"] == len(split) == 158
    assert np.sum(metrics["confusion_matrix"]) == len(split)
    assert [row["support"] for row in metrics["per_class"]] == np.bincount(split.labels).tolist()
    # training already evaluated the run on the same numeric path: the same result, and the
    # log keeps its one result line last
    assert log_lines(run)[-1] == f"test accuracy: {metrics['accuracy']:.4f}"
    assert log_lines(run) == before
    assert metrics == json.loads((gray_run / "metrics.json").read_text())
    evaluate_run(run)
    assert log_lines(run) == before
    assert "test_accuracy" not in json.loads((run / "final_metrics.json").read_text())
    assert metrics["top_k"].keys() == {"1"} and len(metrics["highest_loss"]) == 16
    predictions = read_predictions(run / "predictions.csv")
    assert predictions.ids == tuple(range(158)) and predictions.class_names == ("0", "1", "7")
    np.testing.assert_array_equal(predictions.y_true, split.labels)
    correct = np.mean(predictions.predicted == predictions.y_true)
    assert correct == metrics["accuracy"]


def test_test_model_agrees_with_predict_and_writes_nothing(gray_run):
    trained_metrics = (gray_run / "metrics.json").read_text()
    result = test_model(gray_run)
    split = test_split(gray_run)
    np.testing.assert_array_equal(result.y_true, split.labels)
    np.testing.assert_array_equal(result.ids, np.arange(len(split)))
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, rtol=1e-12)
    predicted = predict(gray_run, split.images)
    np.testing.assert_array_equal(np.stack([p for _, _, p in predicted]), result.probabilities)
    assert [label for _, label, _ in predicted] == [result.class_names[k] for k in result.predicted]
    assert (gray_run / "metrics.json").read_text() == trained_metrics  # test_model writes nothing
    small = test_model(gray_run, batch_size=7)
    np.testing.assert_allclose(small.probabilities, result.probabilities, rtol=1e-5, atol=1e-7)


def test_another_split_writes_tagged_files_and_leaves_the_log_alone(gray_run, copy_run):
    run = copy_run(gray_run)
    before = log_lines(run)
    metrics = evaluate_run(run, split="train")
    assert metrics["split"] == "train" and metrics["num_samples"] == 60
    assert (run / "metrics-train.json").is_file() and (run / "predictions-train.csv").is_file()
    assert json.loads((run / "metrics.json").read_text())["split"] == "test"  # left alone
    assert log_lines(run) == before
    with pytest.raises(DataError, match=r"has no 'val' split; it has \['train', 'test'\]"):
        evaluate_run(run, split="val")


def test_another_dataset_with_the_run_classes(gray_run, copy_run, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    folder = digit_folder(tmp_path / "digits", ["0", "1", "3", "7"], per_class=5)
    name = f"imagefolder:{folder}"
    result = test_model(gray_run, dataset=name)
    assert result.class_names == ("0", "1", "7") and result.dataset == name
    np.testing.assert_array_equal(result.y_true, np.repeat([0, 1, 2], 5))  # digit 3 left out
    sample = load_dataset("mnist-sample").split("test")
    images = np.concatenate([sample.images[sample.labels == d][:5] for d in (0, 1, 7)])
    expected = np.stack([p for _, _, p in predict(gray_run, images)])
    np.testing.assert_array_equal(result.probabilities, expected)
    run = copy_run(gray_run)
    before = log_lines(run)
    evaluate_run(run, dataset=name)
    tag = f"{str(folder).replace('/', '_').strip('_')}-test"
    assert (run / f"metrics-imagefolder_{tag}.json").is_file()
    assert json.loads((run / "metrics.json").read_text())["dataset"] == "mnist-sample"
    assert log_lines(run) == before


def test_a_dataset_with_other_class_names_is_refused(gray_run, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "pets"
    images = np.zeros((2, 1, 28, 28), dtype=np.uint8)
    for split in ("train", "test"):
        for pet in ("cat", "dog"):
            write_pngs(folder / split / pet, images, ["a.png", "b.png"])
    with pytest.raises(
        DataError, match=r"has classes \['cat', 'dog'\].*missing from .*\['0', '1', '7'\]"
    ):
        test_model(gray_run, dataset=f"imagefolder:{folder}")


def test_a_missing_run_directory_is_named(tmp_path):
    with pytest.raises(CnnlabError, match="run directory .*nowhere does not exist"):
        evaluate_run(tmp_path / "nowhere")
    with pytest.raises(CnnlabError, match="run directory .*nowhere does not exist"):
        predict(tmp_path / "nowhere", np.zeros((1, 1, 28, 28), dtype=np.uint8))


def test_predict_on_a_folder_of_pngs_and_on_arrays(gray_run, tmp_path):
    images = test_split(gray_run).images[:4]  # (4, 1, 28, 28)
    names = ["d.png", "a.png", "c.png", "b.png"]
    write_pngs(tmp_path / "imgs", images, names)
    rgb = np.repeat(images[:1], 3, axis=1)  # an RGB copy of the first image
    write_pngs(tmp_path / "imgs" / "rgb", rgb, ["e.png"])
    from_files = predict(gray_run, tmp_path / "imgs")
    assert [image_id for image_id, _, _ in from_files] == [
        "a.png",
        "b.png",
        "c.png",
        "d.png",
        "rgb/e.png",
    ]
    from_array = predict(gray_run, images)
    assert [image_id for image_id, _, _ in from_array] == [0, 1, 2, 3]
    by_name = {image_id: (label, probs) for image_id, label, probs in from_files}
    # PNG is lossless, so the pixels are the same; the batches differ, so the sums may round
    # differently in the last bits.
    for i, name in enumerate([*names, "rgb/e.png"]):
        label, probs = by_name[name]
        assert label == from_array[i % 4][1]
        np.testing.assert_allclose(probs, from_array[i % 4][2], rtol=1e-5, atol=1e-9)
    floats = torch.from_numpy(images).float().div(255).numpy()  # the loader's own conversion
    nhwc = predict(gray_run, floats.transpose(0, 2, 3, 1))
    for (_, label, probs), (_, label2, probs2) in zip(nhwc, from_array, strict=True):
        assert label == label2
        np.testing.assert_array_equal(probs, probs2)
    one = predict(gray_run, [tmp_path / "imgs" / "c.png"])
    assert one[0][0] == "c.png" and one[0][1] == from_array[2][1]


def test_predict_refuses_images_it_cannot_convert(gray_run):
    with pytest.raises(DataFormatError, match="images have 4 channels but the run takes 1"):
        predict(gray_run, np.zeros((2, 4, 28, 28), dtype=np.uint8))
    with pytest.raises(DataFormatError, match=r"do not fit the run's input \(1, 28, 28\)"):
        predict(gray_run, np.zeros((2, 1, 32, 32), dtype=np.uint8))


def test_rgb_ten_class_run(rgb_run, copy_run, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    run = copy_run(rgb_run)
    metrics = evaluate_run(run)
    assert metrics["num_samples"] == 30 and len(metrics["per_class"]) == 10
    assert metrics["top_k"].keys() == {"1", "3", "5"}
    assert log_lines(run)[-1] == f"test accuracy: {metrics['accuracy']:.4f}"
    gray = to_gray(np.full((2, 3, 16, 16), 128, dtype=np.uint8))[:, 0]  # (2, 16, 16)
    with pytest.warns(InputMismatchWarning, match="low contrast"):  # flat gray: said, not refused
        results = predict(run, gray)  # grayscale (N, H, W) replicated to RGB
    assert len(results) == 2 and results[0][2].shape == (10,)


def cli(*argv):
    parser = argparse.ArgumentParser(prog="cnnlab")
    eval_cmd.add_parser(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_eval_and_predict_verbs(gray_run, copy_run, tmp_path, capsys):
    run = copy_run(gray_run)
    assert cli("eval", str(run)) == 0
    out = capsys.readouterr().out
    assert "mnist-sample test: 158 images" in out and "f1 (macro)" in out
    assert "wrote metrics.json, predictions.csv" in out
    write_pngs(tmp_path / "imgs", test_split(run).images[:3], ["x.png", "y.png", "z.png"])
    target = tmp_path / "out" / "predictions.csv"
    assert cli("predict", str(run), "--images", str(tmp_path / "imgs"), "--out", str(target)) == 0
    assert read_predictions(target).ids == ("x.png", "y.png", "z.png")
    assert cli("predict", str(run), "--images", "mnist-sample", "--out", str(target)) == 0
    back = read_predictions(target)
    assert len(back.ids) == 158 and back.has_true_labels
    assert "mnist-sample test accuracy" in capsys.readouterr().out
    with pytest.raises(DataError, match="missing: no such file or folder"):
        cli("predict", str(run), "--images", str(tmp_path / "missing"), "--out", str(target))


def test_runs_evaluate_like_training_reported(tmp_path):
    """A run with a validation split: eval on 'val' matches the last epoch's val accuracy."""
    config = load_experiments(None, [
        "data.dataset=mnist-sample", "data.classes=[0,1]", "data.per_class=10", "data.val=6",
        "data.offline=true", "model.name=fc_only", "train.epochs=1", "train.device=cpu",
        f"out={tmp_path}", "name=v",
    ])[0]  # fmt: skip
    from cnnlab.experiment.engine import train

    run = train(config, quiet=True, report=False).run_dir
    metrics = test_model(run, split="val").metrics
    epochs = RunDir(run).read_epochs()
    assert metrics["num_samples"] == 6
    assert metrics["accuracy"] == pytest.approx(epochs[-1]["val_accuracy"], abs=1e-6)


def test_evaluating_leaves_the_global_random_state_alone(gray_run):
    import torch

    torch.manual_seed(3)
    np.random.seed(3)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    test_model(gray_run)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state)
