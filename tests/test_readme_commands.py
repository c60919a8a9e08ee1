"""Every `cnnlab` command in README.md runs, as written, so the README cannot drift (#20).

The commands are read from the README's code blocks (and its inline `cnnlab VERB ARGS`
spans, `RUN` standing for a run the blocks made) and run in order, in one sandbox folder
holding a copy of `configs/` and `examples/`. Datasets are tiny generated copies in their
real on-disk formats (IDX .gz for MNIST and Fashion-MNIST, a JPEG folder for CIFAR-10), so
commands naming full datasets run too, quickly. What cannot run here is listed in NOT_RUN
with the reason; a command in neither the README's runnable set nor NOT_RUN cannot exist.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli import main
from cnnlab.data.idx import write_idx

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# Commands that cannot run in a test, and why (matched against the command as written).
NOT_RUN = {
    "cnnlab train --dataset my-photos.zip --model resnet18 --pretrained imagenet "
    "--strategy linear-probe": "downloads the official ImageNet weights (no network in tests; "
    "tests/transfer covers a local weights file)",
    "cnnlab sweep configs/recipes/lr-table.yaml": "needs full MNIST (it holds out 5,000 "
    "validation images) and hours on 2 cores; its --quick form runs in tests/sweep, and "
    "benchmarks/course_path.py runs it cut down on the full data",
    "cnnlab scratch train --dataset cifar10 --epochs 4 --batch-size 50 --lr-decay 0.9 "
    "--reg 1e-3": "needs full CIFAR-10 (1,000 validation images by default) and about an hour "
    "on 2 cores; tests/scratch trains the same engine on small data",
    "cnnlab serve runs": "a server runs until stopped; tests/serve starts the same app",
}
# Runs a command needs that no earlier README command makes: (run name, cnnlab arguments).
PREREQUISITES = {
    "runs/cifar10-resnet18": ["train", "--dataset", "cifar10", "--model", "resnet18",
                              "--epochs", "1", "--name", "cifar10-resnet18"],
}  # fmt: skip
INLINE_RUN = "runs/digits"  # what `RUN` stands for in inline spans: a run of all ten digits


def readme_commands(text: str) -> list[tuple[int, str]]:
    """(line number, command) of every `cnnlab ...` line in a code block, comments removed,
    in order; then every inline `cnnlab VERB ARG...` span of the prose, `RUN` replaced by a
    run the blocks made."""
    blocks, spans, in_block = [], [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            in_block = not in_block
            continue
        if in_block and line.strip().startswith("cnnlab "):
            blocks.append((number, " ".join(shlex.split(line, comments=True))))
        elif not in_block:
            for span in re.findall(r"`(cnnlab [a-z-]+ [^`]+)`", line):
                spans.append((number, span.replace("RUN", INLINE_RUN)))
    return blocks + spans


def write_mnist_like(folder: Path, seed: int) -> None:
    """The four IDX .gz files of a 10-class, 28x28 set: 12 train and 5 test images a class."""
    rng = np.random.default_rng(seed)
    for stem, count in (("train", 12), ("t10k", 5)):
        labels = np.repeat(np.arange(10, dtype=np.uint8), count)
        images = rng.integers(0, 60, (len(labels), 28, 28), dtype=np.uint8)
        for k, label in enumerate(labels):  # a bright bar whose place is the class
            images[k, 4 + 2 * label : 6 + 2 * label, 4:24] = 250
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", labels)


def write_photos(folder: Path, classes: list[str], per_split: dict[str, int], size: int) -> None:
    """`folder/<split>/<class>/<n>.jpg`: coloured noise, one colour per class."""
    rng = np.random.default_rng(len(classes))
    for split, count in per_split.items():
        for c, name in enumerate(classes):
            (folder / split / name).mkdir(parents=True, exist_ok=True)
            for n in range(count):
                colour = np.array([(37 * c) % 256, (91 * c) % 256, (151 * c) % 256])
                noise = rng.integers(-40, 41, (size, size, 3))
                pixels = np.clip(colour + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / split / name / f"{n}.jpg", quality=90)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    """A working folder with configs/, examples/, tiny datasets and the user's own files."""
    home = tmp_path_factory.mktemp("readme")
    for folder in ("configs", "examples"):
        shutil.copytree(ROOT / folder, home / folder)
    data = home / "data"
    write_mnist_like(data / "mnist", seed=0)
    write_mnist_like(data / "fashion-mnist", seed=1)
    cifar = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]  # fmt: skip
    write_photos(data / "cifar10-jpg", cifar, {"train": 6, "test": 2}, 32)
    write_photos(home / "my-folder", ["cat", "dog"], {"train": 8, "val": 3}, 48)
    shutil.make_archive(str(home / "my-photos"), "zip", home / "my-folder")
    digits = home / "my_digits"
    digits.mkdir()
    for n in range(3):
        Image.new("L", (28, 28), 0).save(digits / f"{n}.png")
    return home


def test_the_readme_has_commands_and_no_stale_exclusions():
    commands = [c for _, c in readme_commands(README.read_text(encoding="utf-8"))]
    assert len(commands) >= 20
    assert not set(NOT_RUN) - set(commands), "NOT_RUN names a command the README lost"


def test_every_readme_command_runs_as_written(sandbox, monkeypatch, capsys):
    monkeypatch.chdir(sandbox)
    monkeypatch.setenv("CNNLAB_DATA", str(sandbox / "data"))
    monkeypatch.setenv("CNNLAB_CACHE", str(sandbox / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    failures, done = [], set()
    for number, command in readme_commands(README.read_text(encoding="utf-8")):
        if command in NOT_RUN or command in done:  # a repeated command shows the same thing
            continue
        done.add(command)
        for needed, arguments in PREREQUISITES.items():
            if needed in command and not (sandbox / needed).exists():
                assert main(arguments) == 0, (needed, capsys.readouterr().err[-2000:])
        started = time.perf_counter()
        code = main(shlex.split(command)[1:])
        print(f"{time.perf_counter() - started:6.1f} s  {command}", file=sys.__stderr__)  # -s
        said = capsys.readouterr()
        if code != 0:
            failures.append(f"README.md:{number}: {command}\n  exit {code}: {said.err[-600:]}")
    assert not failures, "\n".join(failures)
