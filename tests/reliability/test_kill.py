"""kill -9 and Ctrl-C of real `python -m cnnlab train` processes: a small benchmarks/stress_kill.py.

The full run (24 kill points, signals, sweeps) is `python benchmarks/stress_kill.py`.
"""

from __future__ import annotations

import signal

import stress_kill
from stress_kill import KillPoint

from cnnlab.cli import main


def test_kill_9_in_a_checkpoint_write_then_ctrl_c_then_resume_equals_one_clean_run(tmp_path):
    out = tmp_path / "reference"
    assert main(["train", *stress_kill.TRAIN_FLAGS, "--out", str(out), "--name", "ref"]) == 0
    points = [
        KillPoint("write", file="last.pt"),  # SIGKILL the moment a last.pt write is under way
        KillPoint("training", delay=0.3, signum=signal.SIGINT),  # then Ctrl-C the resumed run
    ]

    def finish(run_dir):
        return main(["train", "--resume", str(run_dir), "--quiet", "--no-report"])

    landings, differences, stderr = stress_kill.train_chain(
        tmp_path, "killed", out / "ref", points, finish
    )
    assert len(landings) == 2, [landing.phase for landing in landings]
    assert [landing.problems for landing in landings] == [[], []]  # every file read after each
    assert "resume with: cnnlab train --resume" in stderr[1]  # the clean stop said how
    assert differences == []  # metrics, iterations, final metrics and weights all equal


def test_the_readability_check_notices_a_truncated_checkpoint(tmp_path):
    (tmp_path / "last.pt").write_bytes(b"PK\x03\x04 truncated")
    (tmp_path / "metrics.csv").write_text("epoch,loss\n1,0.5\n2\n")
    (tmp_path / "status.json").write_text('{"status": "runn')
    (tmp_path / ".last.pt.abc.tmp").write_bytes(b"half")  # an atomic write's leftover: skipped
    problems = stress_kill.unreadable(tmp_path)
    assert [p.split(":")[0] for p in problems] == [
        str(tmp_path / name) for name in ("last.pt", "metrics.csv", "status.json")
    ]
