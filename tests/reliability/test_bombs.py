"""Decompression bombs are refused quickly in bounded memory (#19): an IDX .gz inflating far
past what its header declares, an IDX header declaring an absurd size, and zip and tar.gz
members inflating far past any image. Each is loaded in a fresh process so its peak memory
(RSS) can be measured; the bombs and the probe are benchmarks/stress_inputs.py's, which
`make stress` runs with a table of the figures."""

from __future__ import annotations

import pytest
from stress_inputs import BOMBS, probe_bomb

EXPECTED = {
    "IDX .gz inflating past its header (4 GiB)": [
        "train-images-idx3-ubyte.gz: the gzip stream inflates beyond the 7,856 bytes its IDX "
        "header declares"
    ],
    "IDX header declaring 6 TB": [
        "the 6,000,000,000,016 bytes its IDX header declares would take 5,587.9 GiB, beyond "
        "data.max_gib (8.0 GiB); refused before reading it"
    ],
    "zip member of 256 MiB zeros": [
        "'train/dog/bomb.png' in",
        "is 268,435,456 bytes uncompressed",
        "refused before reading it",
    ],
    "tar.gz member of 256 MiB zeros": [
        "'train/dog/bomb.png' in",
        "is 268,435,456 bytes uncompressed",
        "refused before reading it",
    ],
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_bomb_is_refused_in_under_5_s_and_1_gib(tmp_path, name):
    result, seconds, on_disk = probe_bomb(name, tmp_path)
    assert on_disk < 8 << 20
    for part in EXPECTED[name]:
        assert part in result["outcome"], result["outcome"]
    assert seconds < 5 and result["peak_mib"] < 1024, (seconds, result)
