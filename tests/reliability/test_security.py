"""Nothing cnnlab reads can run code or write outside its target: checkpoints, pickles, archives,
YAML; and the source holds no shell, no eval, no unrestricted unpickling."""

from __future__ import annotations

import ast
import io
import json
import pickle
import tarfile
from pathlib import Path

import pytest
import torch
import yaml
from fuzz_datasets import VALID_PYTHON
from fuzz_formats import READERS
from fuzz_harness import attempt

from cnnlab.cli import main
from cnnlab.config import load_experiments
from cnnlab.data.cifar import PYTHON, load_cifar10
from cnnlab.errors import CnnlabError, UnsafeDataError
from cnnlab.experiment.engine import resume
from cnnlab.models.spec_parse import read_spec_file
from cnnlab.runs.load import load_run
from cnnlab.sweep import load_spec
from cnnlab.training import load_checkpoint

SRC = Path(__file__).resolve().parents[2] / "src" / "cnnlab"


class CreatesFile:
    """Pickles to `open(path, "w")`: any plain unpickler creates the file while loading."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def malicious_checkpoint(path: Path, marker: Path) -> Path:
    """A checkpoint shaped like cnnlab's whose unpickling would create `marker`."""
    torch.save({"model": {"w": torch.zeros(2)}, "history": CreatesFile(marker)}, path)
    return path


def test_the_malicious_checkpoint_really_runs_code_when_loaded_unsafely(tmp_path):
    marker = tmp_path / "pwned"
    torch.load(malicious_checkpoint(tmp_path / "x.pt", marker), weights_only=False)
    assert marker.exists()  # so "the file never appears" below means something


def _transfer_weights(path: Path) -> object:
    weights = pytest.importorskip("cnnlab.transfer.weights")
    return weights.read_state_dict(path)


def _load_paths(run: Path):
    """Every way cnnlab reads a checkpoint, each a function of the run directory."""
    return {
        "load_checkpoint": lambda: load_checkpoint(run / "last.pt"),
        "load_run best": lambda: load_run(run),
        "load_run last": lambda: load_run(run, which="last"),
        "resume finished": lambda: resume(run, quiet=True),
        "resume running": lambda: (_set_status(run, "running"), resume(run, quiet=True)),
        "cnnlab eval": lambda: _exit(main(["eval", str(run)])),
        "cnnlab train --resume": lambda: _exit(main(["train", "--resume", str(run), "--quiet"])),
        "transfer weights": lambda: _transfer_weights(run / "best.pt"),
    }


def _set_status(run: Path, status: str) -> None:
    (run / "status.json").write_text(json.dumps({"status": status}))


def _exit(code: int) -> None:
    if code != 0:
        raise CnnlabError(f"exit code {code}")


@pytest.mark.parametrize("path", list(_load_paths(Path("."))))
def test_every_checkpoint_load_path_refuses_a_malicious_file(
    gray_run, copy_run, tmp_path, capsys, path
):
    run = copy_run(gray_run)
    marker = tmp_path / "pwned"
    for name in ("best.pt", "last.pt"):
        malicious_checkpoint(run / name, marker)
    with pytest.raises(CnnlabError):
        _load_paths(run)[path]()
    assert not marker.exists()
    if path.startswith("cnnlab"):
        assert "was refused" in capsys.readouterr().err
    with pytest.raises(CnnlabError, match=r"last\.pt was refused: it holds more than weights"):
        load_checkpoint(run / "last.pt")


def test_a_malicious_cifar_batch_inside_the_official_archive_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    archive = tmp_path / PYTHON.archive
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in VALID_PYTHON.items():
            if name == "data_batch_2":
                data = pickle.dumps({b"data": CreatesFile(marker), b"labels": [0]}, protocol=2)
            info = tarfile.TarInfo(f"{PYTHON.folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(UnsafeDataError, match=r"refused to load _?io\.open from .*data_batch_2"):
        load_cifar10(archive)
    assert not marker.exists()


# Crafted archives: (kind, entries, what the refusal says), entries in the form of the
# image-folder fuzz reader; "{outside}" is a folder beside the target that must stay untouched.
GOOD = ("train/cat/1.png", "file", b"", "")
CRAFTED = {
    "zip-slip": ("zip", [GOOD, ("../../evil.png", "file", b"x", "")], "'..' component"),
    "zip-absolute": ("zip", [GOOD, ("{outside}/evil.png", "file", b"x", "")], "absolute path"),
    "zip-backslashes": ("zip", [GOOD, ("..\\..\\evil.png", "file", b"x", "")], "'..' component"),
    "zip-symlink": (
        "zip",
        [("train/cat/a.png", "symlink", b"", "{outside}/secret.txt")],
        "symlink",
    ),
    "tar-slip": ("tar", [GOOD, ("train/../../../evil.png", "file", b"x", "")], "'..' component"),
    "tar-absolute": ("tar.gz", [("{outside}/evil.png", "file", b"x", "")], "absolute path"),
    "tar-symlink-then-write-through-it": (
        "tar",
        [("train/cat", "symlink", b"", "{outside}"), ("train/cat/evil.png", "file", b"x", "")],
        "is a link",
    ),
    "tar-hardlink": (
        "tar",
        [("train/cat/1.png", "hardlink", b"", "{outside}/secret.txt")],
        "is a link",
    ),
    "tar-device": ("tar", [GOOD, ("train/cat/dev.png", "device", b"", "")], "device or fifo"),
    "tar-fifo": ("tar", [GOOD, ("train/cat/fifo.png", "fifo", b"", "")], "device or fifo"),
}


@pytest.mark.parametrize("kind,entries,says", list(CRAFTED.values()), ids=list(CRAFTED))
def test_crafted_archives_are_refused_by_load_and_extract_and_write_nothing_outside(
    kind, entries, says
):
    outcome = attempt(READERS["imagefolder"], (kind, entries))
    assert outcome.kind == "refused", outcome  # "escaped" would mean a write outside
    assert outcome.detail.startswith("UnsafeDataError: ") and says in outcome.detail, outcome


HOSTILE_YAML = "model: !!python/object/apply:builtins.open ['{marker}', 'w']\n"


def test_yaml_tags_that_would_run_code_are_refused_everywhere(tmp_path, gray_run, copy_run):
    marker = tmp_path / "pwned"
    text = HOSTILE_YAML.format(marker=marker)
    config, spec, sweep = (tmp_path / name for name in ("c.yaml", "net.yaml", "sweep.yaml"))
    for path in (config, spec, sweep):
        path.write_text(text)
    readers = {
        "config": lambda: load_experiments(config),
        "--set": lambda: load_experiments(None, [f"model.name={text.split(': ', 1)[1]}"]),
        "layer spec": lambda: read_spec_file(spec),
        "sweep spec": lambda: load_spec(sweep),
    }
    for name, read in readers.items():
        with pytest.raises(CnnlabError, match="python/object/apply"):
            read()
        assert not marker.exists(), name
    yaml.safe_load("a: 1")  # (the loader itself is fine)
    run = copy_run(gray_run)
    (run / "config.yaml").write_text(text)
    with pytest.raises(CnnlabError, match="config.yaml: not a readable YAML config"):
        resume(run, quiet=True)
    assert not marker.exists()


# ---------------------------------------------------------------- a scan of the source


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def _keyword(call: ast.Call, name: str):
    found = [k.value for k in call.keywords if k.arg == name]
    return ast.literal_eval(found[0]) if found and isinstance(found[0], ast.Constant) else None


def dangerous_calls(source: str, relative: str) -> list[str]:
    """Calls that could run someone else's code or a shell, as 'file:line: what'."""
    found = []
    for call, name in _calls(ast.parse(source)):
        where = f"{relative}:{call.lineno}: {ast.unparse(call)[:80]}"
        if any(
            k.arg == "shell" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
            for k in call.keywords
        ):
            found.append(f"{where} (shell=)")
        if name in (
            "eval",
            "exec",
            "os.system",
            "os.popen",
            "marshal.loads",
            "yaml.unsafe_load",
            "yaml.full_load",
        ):
            found.append(f"{where} ({name})")
        if name.startswith("pickle.") and name.split(".")[-1] in ("load", "loads", "Unpickler"):
            if relative != "data/safe_pickle.py":
                found.append(f"{where} (unrestricted unpickling)")
        if name in ("yaml.load", "yaml.load_all") and "Safe" not in ast.unparse(call):
            found.append(f"{where} (yaml without SafeLoader)")
        if name == "torch.load" and _keyword(call, "weights_only") is not True:
            found.append(f"{where} (torch.load without weights_only=True)")
        if name in ("np.load", "numpy.load") and _keyword(call, "allow_pickle") is not False:
            found.append(f"{where} (np.load without allow_pickle=False)")
        if name.endswith((".extractall", ".extract")):
            found.append(f"{where} (archive extraction outside extract_safely)")
    return found


def test_the_scanner_finds_each_kind_of_dangerous_call():
    bad = (
        "subprocess.run(cmd, shell=True)\neval(text)\nexec(code)\nos.system('ls')\n"
        "pickle.loads(data)\nyaml.load(text)\ntorch.load(path)\n"
        "torch.load(path, weights_only=False)\nnp.load(path, allow_pickle=True)\n"
        "tar.extractall(target)\n"
    )
    good = "model.eval()\nyaml.load(t, Loader=yaml.SafeLoader)\ntorch.load(p, weights_only=True)\n"
    assert len(dangerous_calls(bad, "x.py")) == 10
    assert dangerous_calls(good + "np.load(p, allow_pickle=False)\n", "x.py") == []


def test_the_source_has_no_shell_eval_or_unrestricted_unpickling():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50
    found = []
    for path in files:
        found += dangerous_calls(path.read_text(encoding="utf-8"), path.relative_to(SRC).as_posix())
    assert found == []


def test_a_refused_checkpoint_never_suggests_loading_it_unsafely(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "evil.pt"
    torch.save({"model": Payload()}, path)
    with pytest.raises(CnnlabError) as refused:
        load_checkpoint(path)
    message = str(refused.value)
    assert "Unsupported global: GLOBAL print" in message
    assert "weights_only=False" not in message and "\x1b" not in message


def test_running_out_of_memory_is_a_clear_error_not_a_traceback(monkeypatch, capsys):
    from cnnlab.cli import models_cmd

    def allocate(args):
        raise MemoryError("Unable to allocate 531. GiB for an array with shape (100000, 100000)")

    monkeypatch.setattr(models_cmd, "run_models", allocate)
    assert main(["models"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cnnlab: error: out of memory: Unable to allocate 531. GiB")
    assert "Traceback" not in err
