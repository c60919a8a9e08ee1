"""Every valid photo decodes (#19): 300 generated JPEGs and PNGs with sides 50-1200 (one in
four a panorama or a tall strip) decode completely at 32x32, 64x64, 224x224 and their own
size. `make stress` runs the same check on 400 (benchmarks/stress_inputs.py)."""

from __future__ import annotations

from stress_inputs import corpus, decode_corpus


def test_a_corpus_of_300_photos_decodes_completely_at_every_size():
    images = corpus(300, seed=1)
    shapes = {native for _, _, native in images}
    assert len(shapes) > 250 and any(w >= 3 * h for h, w in shapes)
    assert any(h >= 3 * w for h, w in shapes)
    for label, (decoded, refused, _) in decode_corpus(images).items():
        assert (decoded, refused) == (300, []), (label, refused[:3])
