"""kill -9, SIGINT and SIGTERM at random moments of `cnnlab train` and `cnnlab sweep`: nothing lost.

Each train trial starts `python -m cnnlab train` on the embedded MNIST sample (CPU, one
thread, dropout, batch norm, augmentation, a cosine schedule) and SIGKILLs it at a seeded
random moment: during start-up, some time into training, or the instant a temporary file of
an atomic write appears (`.last.pt.XXXX.tmp`...: inside a checkpoint write). After every
kill each file in the run directory must still read (checkpoints load, YAML/CSV/JSON parse).
The run is then resumed with `--resume` (killed again, up to --chain kills in a row) and
finally resumed to the end: metrics.csv, iterations.csv, final_metrics.json and the weights of
best.pt and last.pt must equal those of one uninterrupted run exactly. Signal trials send
SIGINT or SIGTERM instead and expect the clean stop: exit code 130, status `interrupted`, the
resume hint. Sweep trials SIGKILL `cnnlab sweep` and rerun it: finished runs are not trained
again, no row is duplicated, and the table equals an uninterrupted sweep's.

    python benchmarks/stress_kill.py [--kills 24] [--signals 6] [--sweep-kills 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

from cnnlab.training.checkpoint import load_checkpoint

EPOCHS = 5
TRAIN_FLAGS = [
    "--dataset", "mnist-sample", "--classes", "0,1,2,3,4", "--offline", "--epochs", str(EPOCHS),
    "--model", "spec", "--set", "model.options={spec: 'conv(8, 3, pad=1) bn relu pool(2) "
    "flatten dropout(0.3) linear'}", "--augment", "crop2", "--batch-size", "32",
    "--device", "cpu", "--set", "train.threads=1", "--set", "data.val=40",
    "--set", "optim.schedule=cosine", "--quiet", "--no-report",
]  # fmt: skip
WRITTEN = ("last.pt", "best.pt", "metrics.csv", "iterations.csv", "status.json")
POLL_SECONDS = 0.0005
TIME_KEYS = (
    "epoch_seconds",
    "eval_seconds",
    "train_seconds",
    "train_eval_seconds",
    "test_eval_seconds",
    "time_s",  # the sweep table's training seconds
)


@dataclass(frozen=True)
class KillPoint:
    """When to kill: `delay` s after start-up or after training began, or at a write of `file`."""

    kind: str  # "startup", "training" or "write"
    delay: float = 0.0
    file: str = ""
    signum: int = signal.SIGKILL  # SIGINT / SIGTERM: a clean stop is expected instead


def cnnlab(*args: str) -> list[str]:
    return [sys.executable, "-m", "cnnlab", *args]


def spawn(command: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def temp_files(folder: Path) -> list[Path]:
    """Temporary files of atomic writes (`.name.XXXX.tmp`) anywhere under `folder`."""
    return sorted(folder.rglob(".*.tmp")) if folder.is_dir() else []


def log_lines(run_dir: Path) -> list[str]:
    path = run_dir / "train.log"
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []


def training_started(lines: list[str], skip: int) -> bool:
    """Whether the log lines after the first `skip` say this process started training."""
    return any(line.startswith(("data:", "resumed from", "resume:")) for line in lines[skip:])


def run_until(process: subprocess.Popen, run_dir: Path, point: KillPoint | None):
    """Wait for the kill point (or the end) and signal there; returns (fired, seconds, stderr)."""
    signum = point.signum if point is not None else signal.SIGKILL
    started = time.perf_counter()
    skip = len(log_lines(run_dir))
    anchor = started if point is not None and point.kind == "startup" else None
    while process.poll() is None:
        now = time.perf_counter()
        if point is not None and point.kind == "write":
            if any(p.name.startswith(f".{point.file}.") for p in temp_files(run_dir)):
                process.send_signal(signum)  # the write is under way this very moment
                break
        elif point is not None:
            if anchor is None and training_started(log_lines(run_dir), skip):
                anchor = now
            if anchor is not None and now - anchor >= point.delay:
                process.send_signal(signum)
                break
        time.sleep(POLL_SECONDS)
    out, err = process.communicate()
    fired = process.returncode == -signum or (
        signum != signal.SIGKILL and process.returncode == 130
    )
    return fired, time.perf_counter() - started, err.decode(errors="replace")


def unreadable(folder: Path) -> list[str]:
    """Files under `folder` that do not read as what their suffix promises (temp files skipped)."""
    problems = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            continue
        try:
            if path.suffix == ".pt":
                load_checkpoint(path)
            elif path.suffix == ".yaml":
                yaml.safe_load(path.read_text(encoding="utf-8"))
            elif path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".csv":
                with open(path, newline="", encoding="utf-8") as stream:
                    rows = list(csv.reader(stream))
                if not rows or any(len(row) != len(rows[0]) for row in rows):
                    raise ValueError("ragged or empty CSV")
            elif path.suffix == ".png":
                with Image.open(path) as image:
                    image.load()
            else:
                path.read_bytes().decode("utf-8")
        except Exception as error:  # noqa: BLE001 - any failure is a finding to report
            problems.append(f"{path}: {type(error).__name__}: {error}")
    return problems


def without_times(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIME_KEYS} for row in rows]


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as stream:
        return without_times(list(csv.DictReader(stream)))


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def differences(run_dir: Path, reference: Path) -> list[str]:
    """How a finished run differs from the reference (empty when equal bit for bit)."""
    found = []
    for name in ("metrics.csv", "iterations.csv"):
        if read_rows(run_dir / name) != read_rows(reference / name):
            found.append(f"{name} differs")
    final = [json.loads((d / "final_metrics.json").read_text()) for d in (run_dir, reference)]
    if without_times([final[0]]) != without_times([final[1]]):
        found.append("final_metrics.json differs")
    for name in ("best.pt", "last.pt"):
        mine, theirs = weights(run_dir / name), weights(reference / name)
        if mine.keys() != theirs.keys() or not all(torch.equal(mine[k], theirs[k]) for k in mine):
            found.append(f"{name} weights differ")
    status = json.loads((run_dir / "status.json").read_text())["status"]
    if status != "finished":
        found.append(f"status {status}")
    if temp_files(run_dir):
        found.append(f"temporary files left: {temp_files(run_dir)}")
    return found


def train_command(out: Path, name: str, run_dir: Path) -> list[str]:
    """Resume the run if it exists with its config, else start it afresh."""
    if (run_dir / "config.yaml").is_file():
        return cnnlab("train", "--resume", str(run_dir), "--quiet", "--no-report")
    shutil.rmtree(run_dir, ignore_errors=True)  # killed before its config existed: not started
    return cnnlab("train", *TRAIN_FLAGS, "--out", str(out), "--name", name)


def reference_run(work: Path) -> tuple[Path, float, float]:
    """One uninterrupted run; returns (run dir, start-up seconds, training seconds)."""
    out, run_dir = work / "reference", work / "reference" / "ref"
    process = spawn(train_command(out, "ref", run_dir), work)
    started = time.perf_counter()
    training = trained = None  # when training began and when its last epoch was done
    while process.poll() is None:
        lines = log_lines(run_dir)
        if training is None and training_started(lines, 0):
            training = time.perf_counter()
        if trained is None and any(line.startswith("best epoch") for line in lines):
            trained = time.perf_counter()
        time.sleep(0.002)
    _, err = process.communicate()
    if process.returncode != 0 or training is None or trained is None:
        raise SystemExit(f"the reference run failed:\n{err.decode()}")
    return run_dir, training - started, trained - training


@dataclass
class Landing:
    """Where one kill landed and whether the run directory was readable afterwards."""

    phase: str  # "start-up", "training", "inside a write of X"
    epoch: int  # epochs saved when killed
    problems: list[str]


def landing(run_dir: Path, skip: int) -> Landing:
    leftovers = temp_files(run_dir)
    lines = log_lines(run_dir)
    metrics = run_dir / "metrics.csv"
    epoch = len(read_rows(metrics)) if metrics.is_file() else 0  # epochs saved when killed
    if leftovers:
        name = leftovers[0].name[1:].split(".tmp")[0].rsplit(".", 1)[0]
        phase = f"inside a write of {name}"
    elif training_started(lines, skip):
        done = epoch == EPOCHS or any("best epoch" in x for x in lines[skip:])
        phase = "after the last epoch (final evaluation)" if done else "training"
    else:
        phase = "start-up"
    return Landing(phase, epoch, unreadable(run_dir))


def train_chain(work: Path, name: str, reference: Path, points: list[KillPoint], finish=None):
    """Kill a run at each point in turn (resuming in between), then resume it to the end.

    `finish(run_dir)` runs the last resume and returns its exit code (default: a subprocess).
    Returns (landings of the kills that fired, differences from the reference, stderr texts).
    """
    out = work / "runs"
    run_dir = out / name
    landings, errors = [], []
    for point in points:
        skip = len(log_lines(run_dir))
        process = spawn(train_command(out, name, run_dir), work)
        fired, _, err = run_until(process, run_dir, point)
        errors.append(err)
        if not fired:
            break  # the run ended before the point came
        landings.append(landing(run_dir, skip))
    if not (run_dir / "final_metrics.json").is_file() or temp_files(run_dir):
        if finish is not None:
            code, err = finish(run_dir), ""
        else:
            process = spawn(train_command(out, name, run_dir), work)
            _, _, err = run_until(process, run_dir, None)
            code = process.returncode
        if code != 0:
            return landings, [f"final resume exited {code}: {err[-500:]}"], errors
    return landings, differences(run_dir, reference), errors


def plan(rng: np.random.Generator, startup: float, training: float) -> KillPoint:
    """A random kill point: 40% inside a write, 45% during training, 15% during start-up."""
    u = rng.random()
    if u < 0.40:
        file = rng.choice(WRITTEN, p=[0.4, 0.2, 0.15, 0.1, 0.15])
        return KillPoint("write", file=str(file))
    if u < 0.85:
        return KillPoint("training", delay=float(rng.uniform(0, 1.2 * training)))
    return KillPoint("startup", delay=float(rng.uniform(0, startup)))


SWEEP_SPEC = {
    "name": "stress",
    "base": {
        "data": {"dataset": "mnist-sample", "classes": [0, 1, 7], "per_class": 60, "offline": True},
        "model": {"name": "conv1"},
        "train": {"epochs": 3, "batch_size": 16, "device": "cpu", "threads": 1},
    },
    "grid": {"optim.lr": [0.003, 0.001, 0.0003, 0.0001]},
}


def settled_runs(sweep_dir: Path) -> dict[str, str]:
    """Hash of last.pt and train.log of each finished run of a sweep."""
    found = {}
    for run in sorted((sweep_dir / "runs").glob("*")) if (sweep_dir / "runs").is_dir() else []:
        status = run / "status.json"
        if status.is_file() and json.loads(status.read_text()).get("status") == "finished":
            digest = hashlib.sha256(
                (run / "last.pt").read_bytes() + (run / "train.log").read_bytes()
            )
            found[run.name] = digest.hexdigest()
    return found


def sweep_trial(work: Path, rng: np.random.Generator, kills: int) -> dict:
    """SIGKILL `cnnlab sweep` `kills` times, rerun it each time, compare it to a clean sweep."""
    spec = work / "sweep.yaml"
    spec.write_text(yaml.safe_dump(SWEEP_SPEC), encoding="utf-8")
    command = ["sweep", str(spec), "--no-report", "--out"]
    started = time.perf_counter()
    clean = subprocess.run(cnnlab(*command, str(work / "clean")), cwd=work, capture_output=True)
    total = time.perf_counter() - started
    if clean.returncode != 0:
        raise SystemExit(f"the clean sweep failed:\n{clean.stderr.decode()}")
    sweep_dir = work / "killed" / "stress"
    fired, problems, settled_before = 0, [], {}
    for k in range(3 * kills):  # two kills inside some run's write, one at a random time...
        if fired == kills:
            break
        settled_before.update(settled_runs(sweep_dir))
        process = spawn(cnnlab(*command, str(work / "killed")), work)
        if k % 3 < 2:
            point = KillPoint("write", file=str(rng.choice(["last.pt", "best.pt", "metrics.csv"])))
        else:
            point = KillPoint("startup", delay=float(rng.uniform(0.5 * total, total)))
        ok, _, _ = run_until(process, sweep_dir, point)
        fired += ok
        problems += unreadable(sweep_dir) if sweep_dir.is_dir() else []
        if process.returncode == 0:
            break  # ...until the sweep got to its end first
    final = subprocess.run(cnnlab(*command, str(work / "killed")), cwd=work, capture_output=True)
    if final.returncode != 0:
        problems.append(f"final sweep exited {final.returncode}")
    rows, reference = (
        read_rows(d / "stress" / "results.csv") for d in (work / "killed", work / "clean")
    )
    if rows != reference:
        problems.append(f"results differ: {rows} != {reference}")
    names = sorted(p.name for p in (sweep_dir / "runs").iterdir())
    if names != sorted(row["run"] for row in reference):
        problems.append(f"run folders {names}")
    after = settled_runs(sweep_dir)
    retrained = [name for name, digest in settled_before.items() if after.get(name) != digest]
    if retrained:
        problems.append(f"finished runs trained again: {retrained}")
    for name in names:
        ours, theirs = sweep_dir / "runs" / name, work / "clean" / "stress" / "runs" / name
        if read_rows(ours / "metrics.csv") != read_rows(theirs / "metrics.csv"):
            problems.append(f"{name}: metrics.csv differs")
    return {"kills": fired, "problems": problems, "settled_before_kill": len(settled_before)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=24, help="kill -9 points in train runs")
    parser.add_argument("--chain", type=int, default=3, help="kills in a row before a clean resume")
    parser.add_argument("--signals", type=int, default=6, help="SIGINT/SIGTERM trials")
    parser.add_argument("--sweep-kills", type=int, default=4, help="kill -9 points in a sweep")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="trials run at once")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cnnlab-stress-") as folder:
        work = Path(folder)
        reference, startup, training = reference_run(work)
        print(f"reference run: start-up {startup:.1f} s, training {training:.1f} s")
        rows = []  # (landing, held)
        with ThreadPoolExecutor(args.jobs) as pool:
            trial = 0
            while len(rows) < args.kills:  # chains end early when the run finishes first
                chains = -(-(args.kills - len(rows)) // args.chain)
                plans = [
                    [plan(rng, startup, training) for _ in range(args.chain)] for _ in range(chains)
                ]
                names = [f"kill{trial + k}" for k in range(chains)]
                trial += chains
                results = pool.map(
                    lambda a: train_chain(work, a[0], reference, a[1]),
                    zip(names, plans, strict=True),
                )
                for name, (landings, diffs, _) in zip(names, results, strict=True):
                    rows += [(item, not diffs and not item.problems) for item in landings]
                    for text in diffs + [p for item in landings for p in item.problems]:
                        print(f"  {name}: {text}")
            signums = [(signal.SIGINT, signal.SIGTERM)[k % 2] for k in range(args.signals)]
            points = [
                KillPoint("training", float(rng.uniform(0, 0.9 * training)), signum=s)
                for s in signums
            ]
            results = pool.map(
                lambda k: train_chain(work, f"sig{k}", reference, [points[k]]), range(args.signals)
            )
            signal_rows = []
            for k, (landings, diffs, errors) in enumerate(results):
                clean = bool(landings) and "resume with: cnnlab train --resume" in errors[0]
                signal_rows.append((signums[k].name, clean and not diffs))
                if not clean:
                    diffs = [f"no clean stop: {errors[0][-300:]!r}", *diffs]
                for text in diffs:
                    print(f"  {signums[k].name} trial {k}: {text}")
        sweep = sweep_trial(work, rng, args.sweep_kills) if args.sweep_kills else None
    report(rows, signal_rows, sweep, time.perf_counter() - clock, args)
    failed = not all(held for _, held in rows + signal_rows) or (sweep and sweep["problems"])
    return 1 if failed else 0


def report(rows, signal_rows, sweep, seconds: float, args) -> None:
    """Print the table of kill points, where they landed and how many held."""
    print("\n| fault | tried | held |\n| --- | ---: | ---: |")
    print(
        f"| kill -9 of `cnnlab train`, then `--resume` | {len(rows)} | {sum(h for _, h in rows)} |"
    )
    phases: dict[str, list[bool]] = {}
    for item, held in rows:
        key = (
            item.phase
            if not item.phase.startswith("training")
            else f"training, epoch {item.epoch + 1}"
        )
        phases.setdefault(key, []).append(held)
    for key in sorted(phases):
        print(f"| &nbsp;&nbsp;landed: {key} | {len(phases[key])} | {sum(phases[key])} |")
    for name in ("SIGINT", "SIGTERM"):
        held = [h for n, h in signal_rows if n == name]
        if held:
            print(
                f"| {name} during training: clean stop, then `--resume` "
                f"| {len(held)} | {sum(held)} |"
            )
    if sweep is not None:
        held = sweep["kills"] if not sweep["problems"] else 0
        print(f"| kill -9 of `cnnlab sweep`, then rerun | {sweep['kills']} | {held} |")
        for text in sweep["problems"]:
            print(f"  sweep: {text}")
    print(f"\n{seconds:.0f} s in all (seed {args.seed}, {args.chain} kills in a row per trial)")


if __name__ == "__main__":
    sys.exit(main())
