"""The readers under fuzz, each with a Hypothesis strategy of inputs in its real on-disk form.

idx: the four MNIST IDX files (raw or gzip), one of them generated. cifar-python / cifar-binary:
a CIFAR-10 batch folder or official .tar.gz, one file generated (a pickle of near-valid or
hostile objects, hand-written malicious pickles, binary records), tar members of every type.
imagefolder: a zip, tar, tar.gz or folder of odd names, `..` and absolute entries, symlinks,
hardlinks, devices, empty and broken images, read by `load_imagefolder` and `extract_safely`.
config: YAML files and `--set` overrides (tags, anchors, deep nesting, bad values).
layer-spec: compact strings, YAML lists and spec files, parsed and built on the meta device.
images: mutated PNG/JPEG/GIF/BMP/TIFF/WebP bytes decoded by `decode_image`.
"""

from __future__ import annotations

from fuzz_datasets import (
    BINARY,
    PYTHON,
    VALID_BINARY,
    VALID_PYTHON,
    binary_file,
    build_cifar,
    build_idx,
    cifar_inputs,
    idx_inputs,
    python_file,
    read_cifar,
    read_idx,
)
from fuzz_harness import Reader
from fuzz_images import (
    build_image,
    build_imagefolder,
    image_inputs,
    imagefolder_inputs,
    read_image,
    read_imagefolder,
)
from fuzz_text import (
    build_config,
    build_spec_input,
    config_inputs,
    read_config,
    read_spec,
    spec_inputs,
)

READERS = {
    reader.name: reader
    for reader in (
        Reader("idx", idx_inputs, build_idx, read_idx),
        Reader(
            "cifar-python",
            cifar_inputs(PYTHON, python_file()),
            build_cifar(PYTHON, VALID_PYTHON),
            read_cifar,
        ),
        Reader(
            "cifar-binary",
            cifar_inputs(BINARY, binary_file()),
            build_cifar(BINARY, VALID_BINARY),
            read_cifar,
        ),
        Reader("imagefolder", imagefolder_inputs, build_imagefolder, read_imagefolder),
        Reader("config", config_inputs, build_config, read_config),
        Reader("layer-spec", spec_inputs, build_spec_input, read_spec),
        Reader("images", image_inputs, build_image, read_image),
    )
}
