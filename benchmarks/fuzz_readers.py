"""Fuzz every cnnlab reader with >= 10,000 generated inputs each and print what happened.

For each reader of `fuzz_formats.READERS` (IDX, CIFAR-10 python and binary batches, image
folders as zip / tar / folder, the config loader, the layer-spec parser, single images),
Hypothesis generates inputs in the real on-disk formats; each is read in a fresh sandbox.
Every input must end "ok" or "refused" (a `CnnlabError` with a message): any other exception,
a write outside the sandbox's cache/target folders, or an input taking more than
--seconds is a finding, listed under the table (and the exit status is 1).

    python benchmarks/fuzz_readers.py [--examples 10000] [--readers idx,config] [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # fuzz_harness and fuzz_formats beside it

from fuzz_formats import READERS  # noqa: E402
from fuzz_harness import DEFAULT_SECONDS, Reader, attempt  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

FINDINGS = ("other", "escaped", "hang")


def fuzz(name: str, examples: int, random_seed: int, seconds: float) -> dict:
    """Run `examples` generated inputs through reader `name`; counts, findings and timings."""
    reader: Reader = READERS[name]
    counts: Counter = Counter()
    findings: list[str] = []
    slowest = [0.0]

    @seed(random_seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(reader.strategy)
    def run(example):
        outcome = attempt(reader, example, seconds)
        counts[outcome.kind] += 1
        slowest[0] = max(slowest[0], outcome.seconds)
        if outcome.kind in FINDINGS and len(findings) < 5:
            findings.append(f"{outcome.kind}: {outcome.detail}\n      input: {example!r:.300}")

    started = time.perf_counter()
    run()
    return {
        "counts": counts,
        "findings": findings,
        "slowest": slowest[0],
        "seconds": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=10_000, help="inputs per reader")
    parser.add_argument("--readers", default=",".join(READERS), help="comma-separated names")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="hang limit")
    parser.add_argument("--jobs", type=int, default=2, help="readers fuzzed at once (processes)")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.readers.split(",") if name.strip()]
    unknown = [name for name in names if name not in READERS]
    if unknown:
        parser.error(f"unknown readers {unknown}; known: {', '.join(READERS)}")
    print(
        "| reader | inputs tried | refused (CnnlabError) | ok | other exceptions | "
        "writes outside | hangs | slowest input | seconds |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    found = []
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(fuzz, n, args.examples, args.seed, args.seconds) for n in names]
        results = [future.result() for future in futures]  # in the order of `names`
    for name, result in zip(names, results, strict=True):
        c = result["counts"]
        print(
            f"| {name} | {sum(c.values()):,} | {c['refused']:,} | {c['ok']:,} | {c['other']} | "
            f"{c['escaped']} | {c['hang']} | {result['slowest']:.2f} s | {result['seconds']:.0f} |",
            flush=True,
        )
        found += [f"{name}: {text}" for text in result["findings"]]
    print(f"\n{time.perf_counter() - started:.0f} s in all, {args.jobs} readers at a time")
    for text in found:
        print(f"  {text}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
