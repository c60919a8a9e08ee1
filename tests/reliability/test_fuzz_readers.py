"""Property-based tests of every reader: any generated input is read or refused with a
`CnnlabError` that says why; no other exception, no hang, no write outside the cache/target.

The inputs (real on-disk formats, hostile variants) come from benchmarks/fuzz_formats.py;
`python benchmarks/fuzz_readers.py` runs 10,000 per reader, this suite 100 to 200.
"""

from __future__ import annotations

import pytest
from fuzz_formats import READERS
from fuzz_harness import attempt
from hypothesis import HealthCheck, given, settings

EXAMPLES = {"imagefolder": 150, "config": 100}  # the slower readers; the others get 200
SECONDS = 10.0  # one input taking longer is a hang


def check(name: str, example) -> None:
    outcome = attempt(READERS[name], example, SECONDS)
    assert outcome.kind in ("ok", "refused"), f"{outcome.kind}: {outcome.detail}"


def reader_test(name: str):
    """A Hypothesis test of reader `name` (seeded: the same inputs on every run)."""

    @settings(
        max_examples=EXAMPLES.get(name, 200),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(READERS[name].strategy)
    def test(example):
        check(name, example)

    return test


test_idx_files = reader_test("idx")
test_cifar_python_batches = reader_test("cifar-python")
test_cifar_binary_batches = reader_test("cifar-binary")
test_image_folder_archives_and_folders = reader_test("imagefolder")
test_config_files_and_overrides = reader_test("config")
test_layer_specs = reader_test("layer-spec")
test_single_images = reader_test("images")


# Inputs the fuzzer found that once escaped as other exceptions (all fixed in the readers).
HUGE_ARRAY = b"cnumpy\nndarray\n(I100000000000\ntR."  # numpy.ndarray((10**11,)): 745 GiB
FOUND = [
    ("cifar-python", ("data_batch_1", HUGE_ARRAY, "folder", b"0", None)),
    ("imagefolder", ("zip", [("a/1.png", "dir", b"", ""), ("a/1.png", "file", b"x", "")])),
    ("imagefolder", ("tar", [("a/b", "file", b"x", ""), ("a/b/c.png", "file", b"x", "")])),
    ("config", (None, ["data.channels=" + "[" * 600])),
    ("config", ("data: " + "[" * 600 + "]" * 600, [])),
    ("config", ("model:\n- null\n", [])),
    ("layer-spec", ("text", "conv(99999999999999999999, 3, pad=1) relu pool(2) flatten linear")),
    ("layer-spec", ("list", [{"linear": 2**70}])),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "example"), FOUND, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FOUND)]
)
def test_inputs_the_fuzzer_found_are_refused(name, example):
    outcome = attempt(READERS[name], example, SECONDS)
    assert outcome.kind == "refused", outcome
