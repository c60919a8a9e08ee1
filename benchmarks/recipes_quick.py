"""Run every recipe in configs/recipes/ with --quick and print a table of how each ended.

    python benchmarks/recipes_quick.py [--out DIR]

Exits non-zero when a recipe raises or any of its runs ends `failed` (a diverged run is a
result, not a failure). Offline: --quick uses the embedded MNIST sample.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

from cnnlab.sweep import load_spec, run_sweep

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, help="sweep output folder (default: a temporary one)")
    args = parser.parse_args()
    rows, ok = [], True
    with tempfile.TemporaryDirectory() as temporary:
        out = args.out or Path(temporary)
        for path in sorted((ROOT / "configs" / "recipes").glob("*.yaml")):
            started = time.perf_counter()
            result = run_sweep(load_spec(path, quick=True), out)
            statuses = collections.Counter(row["status"].split(":")[0] for row in result.rows)
            ok &= statuses.get("failed", 0) == 0
            rows.append(
                (path.name, len(result.rows), dict(statuses), time.perf_counter() - started)
            )
    print(f"{'recipe':<34} {'runs':>4} {'seconds':>8}  statuses")
    for name, count, statuses, seconds in rows:
        print(f"{name:<34} {count:>4} {seconds:>8.1f}  {statuses}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
