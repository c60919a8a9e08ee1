"""`cnnlab export RUN`: a run's model as ONNX, TorchScript or safetensors, each file proved.

Every file is run on the run's test split (onnxruntime for ONNX, the loaded TorchScript
module, the safetensors model rebuilt from its record) and compared image by image with the
run's own model in fp32; export.json says the result, and a file that disagrees on any image
or differs by more than the tolerance in any probability makes the export fail.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import cnnlab
from cnnlab.data.configured import load_configured
from cnnlab.errors import ExportError
from cnnlab.evaluate.api import run_data
from cnnlab.evaluate.inference import predict_probabilities
from cnnlab.export.extra import require
from cnnlab.export.formats import FORMATS
from cnnlab.export.onnx_format import MIN_OPSET, onnx_logits
from cnnlab.export.proof import compare, softmax
from cnnlab.export.quantize import QUANTIZE, calibration_note, quantize_int8
from cnnlab.export.record import INT8_FILE, ExportRecord, FileRecord, write_export_record
from cnnlab.export.scratch import is_scratch_run, scratch_exporter, scratch_logits, scratch_metadata
from cnnlab.export.source import ProofImages, load_source, proof_images
from cnnlab.runs.rundir import RunDir

DEFAULT_FORMATS = ("onnx",)
DEFAULT_OPSET = 18  # ONNX opset: onnxruntime >= 1.14 and most runtimes read it
DEFAULT_TOLERANCE = 1e-4  # largest |probability difference| an fp32 file may show
SHOWN = 5  # disagreeing images named in the error message


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: its folder, export.json and the record in it."""

    folder: Path
    record: ExportRecord
    record_path: Path


def format_names(formats: str | Sequence[str]) -> tuple[str, ...]:
    """Format names from a name, a comma list or several of either, checked, repeats dropped."""
    items = [formats] if isinstance(formats, str) else list(formats)
    names = [n.strip().lower() for item in items for n in str(item).split(",") if n.strip()]
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise ExportError(
            f"export format {', '.join(map(repr, unknown)) or '(none)'}: expected one or more "
            f"of {', '.join(FORMATS)}"
        )
    return tuple(dict.fromkeys(names))


def check_options(opset: int, quantize: str | None, tolerance: float) -> None:
    """Refuse an opset, quantization or tolerance export cannot honour, naming the limit."""
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET:
        raise ExportError(f"--opset must be an integer >= {MIN_OPSET}, got {opset!r}")
    if quantize is not None and quantize not in QUANTIZE:
        raise ExportError(f"--quantize {quantize!r}: expected one of {', '.join(QUANTIZE)}")
    if not (isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance >= 0):
        raise ExportError(f"--tolerance must be a finite number >= 0, got {tolerance!r}")


def export_run(
    run_dir: Path,
    formats: str | Sequence[str] = DEFAULT_FORMATS,
    out: Path | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    quantize: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ExportResult:
    """Export the run's best checkpoint in `formats` into `out` (default `<run>/export/`),
    prove each file on the test split and write export.json; raise `ExportError` on a failure."""
    names = format_names(formats)
    if quantize is not None and "onnx" not in names:
        names = ("onnx", *names)  # int8 is made from the ONNX file
    check_options(opset, quantize, tolerance)
    require(*dict.fromkeys(need for name in names for need in FORMATS[name].needs))
    run = RunDir(Path(run_dir))
    folder = Path(out) if out is not None else run.export_dir
    if is_scratch_run(run):
        return _export_scratch(run, names, folder, opset, quantize, tolerance)
    source = load_source(run.path)
    data = run_data(source.loaded)
    proof = proof_images(data, source.metadata.input_shape, run.path)
    reference = predict_probabilities(
        source.classifier, proof.images, tta_flip=source.tta_flip, precision="fp32"
    )  # (N, K) float64: the run's own answer
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name in names:
        entry = FORMATS[name]
        path = entry.write(source, folder / entry.file, opset)
        files.append(
            _prove(name, path, entry.answer, proof, reference, tolerance, opset, entry.has_opset)
        )
    flip = ", flip-averaged" if source.tta_flip else ""
    described = f"the run's best.pt in torch, fp32 on CPU{flip}"
    record = ExportRecord(
        str(run.path), cnnlab.__version__, "torch", proof.split, len(proof.labels), described,
        proof.note, tuple(files),
    )  # fmt: skip
    if quantize is not None:
        record = _with_int8(record, folder, data.splits["train"].images, proof, reference, opset)
    return _finish(folder, record)


def _prove(
    name: str,
    path: Path,
    answer: Callable[[Path, np.ndarray], np.ndarray],
    proof: ProofImages,
    reference: np.ndarray,
    tolerance: float | None,
    opset: int,
    has_opset: bool,
) -> FileRecord:
    """Run the file at `path` on the proof images and compare it with the run's answer."""
    exported = softmax(answer(path, proof.images))  # (N, K)
    result = compare(reference, exported, proof.labels, tolerance)
    return FileRecord(name, path.name, path.stat().st_size, opset if has_opset else None, result)


def _with_int8(
    record: ExportRecord,
    folder: Path,
    training: np.ndarray,
    proof: ProofImages,
    reference: np.ndarray,
    opset: int,
) -> ExportRecord:
    """`record` with the int8 file made from model.onnx and its (reported only) proof."""
    path = quantize_int8(folder / FORMATS["onnx"].file, folder / INT8_FILE, training)
    int8 = _prove("int8", path, onnx_logits, proof, reference, None, opset, True)
    return dataclasses.replace(record, int8=int8, int8_method=calibration_note(training))


def _finish(folder: Path, record: ExportRecord) -> ExportResult:
    """Write export.json; raise naming each file that failed its proof."""
    path = write_export_record(folder, record)
    failed = [f for f in record.files if not f.proof.passed]
    if failed:
        raise ExportError(
            "; ".join(failure(f, record.proof_split) for f in failed) + f"; see {path}"
        )
    return ExportResult(folder, record, path)


def failure(file: FileRecord, split: str) -> str:
    """Why `file` failed: its agreement, the first disagreeing images, its largest difference."""
    proof = file.proof
    said = [
        f"{file.file} does not answer as the run: top-1 agreement {proof.agreement:.2%} on "
        f"{proof.images} {split} images, max |probability difference| "
        f"{proof.max_abs_difference:.3g} (tolerance {proof.tolerance:g})"
    ]
    for d in proof.disagreements[:SHOWN]:
        said.append(
            f"{split} image {d.index}: run class {d.run_class} (margin {d.run_margin:.3f}), "
            f"file class {d.export_class} (margin {d.export_margin:.3f})"
        )
    more = len(proof.disagreements) - SHOWN
    return ", ".join(said) + (f" and {more} more disagreeing images" if more > 0 else "")


def _export_scratch(
    run: RunDir,
    names: tuple[str, ...],
    folder: Path,
    opset: int,
    quantize: str | None,
    tolerance: float,
) -> ExportResult:
    """A NumPy scratch run as ONNX, proved against the NumPy forward pass."""
    module = scratch_exporter(run, names)
    config = run.read_config()
    data = load_configured(config.data, config.train.seed)
    in_shape = data.splits["train"].image_shape
    metadata = scratch_metadata(run, config, in_shape)
    proof = proof_images(data, in_shape, run.path)
    reference = softmax(scratch_logits(module, run, proof.images))
    folder.mkdir(parents=True, exist_ok=True)
    path = module.export_scratch_onnx(
        run.path, folder / FORMATS["onnx"].file, metadata.props(), opset
    )
    onnx = _prove("onnx", Path(path), onnx_logits, proof, reference, tolerance, opset, True)
    described = "the run's best.npz through the NumPy engine's forward pass (float32)"
    record = ExportRecord(
        str(run.path), cnnlab.__version__, "numpy", proof.split, len(proof.labels), described,
        proof.note, (onnx,),
    )  # fmt: skip
    if quantize is not None:
        record = _with_int8(record, folder, data.splits["train"].images, proof, reference, opset)
    return _finish(folder, record)
