"""`cnnlab export RUN`: the run's model as ONNX / TorchScript / safetensors, each file proved."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMAT_NAMES = "onnx, torchscript, safetensors"  # the keys of export.formats.FORMATS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` verb."""
    parser = subparsers.add_parser(
        "export",
        help="export a run's best checkpoint (ONNX, TorchScript, safetensors), proved on its "
        "test split",
        description="Write the run's model as it evaluates (normalisation inside, flip "
        "averaging when the run uses it), run every file on the run's test split next to the "
        "run's own model (fp32) and write export.json; exit 1 when a file disagrees on any "
        "image or differs by more than --tolerance in any probability. Needs "
        "pip install 'cnnlab[export]'.",
    )
    parser.add_argument("run", type=Path, help="run directory")
    parser.add_argument(
        "--format",
        dest="formats",
        action="append",
        metavar="FORMAT",
        help=f"{FORMAT_NAMES}; repeat it or give a comma list (default onnx)",
    )
    parser.add_argument("--out", type=Path, help="folder for the files (default RUN/export)")
    parser.add_argument("--opset", type=int, help="ONNX opset (default 18)")
    parser.add_argument(
        "--quantize",
        choices=("int8",),
        help="also write model.int8.onnx (onnxruntime static int8, calibrated on training "
        "images); its accuracy change is reported, never a failure",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        help="largest |probability difference| a file may show on any image (default 1e-4)",
    )
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export, print one line per file and where export.json went."""
    from cnnlab.export import export  # torch loads when the verb runs

    result = export(
        args.run,
        args.formats or ["onnx"],
        args.out,
        opset=args.opset,
        quantize=args.quantize,
        tolerance=args.tolerance,
    )
    record = result.record
    if record.note:
        print(f"cnnlab: note: {record.note}", file=sys.stderr)
    for file in (*record.files, *((record.int8,) if record.int8 else ())):
        proof = file.proof
        opset = f", opset {file.opset}" if file.opset is not None else ""
        verdict = "passed" if proof.tolerance is not None else "reported"
        print(
            f"{file.file} ({file.format}{opset}, {file.bytes / 1e6:.2f} MB): top-1 agreement "
            f"{proof.agreement:.2%} on {proof.images} {record.proof_split} images, max "
            f"|probability difference| {proof.max_abs_difference:.2g}, accuracy "
            f"{proof.export_accuracy:.4f} (run {proof.run_accuracy:.4f}): {verdict}"
        )
    print(f"wrote {result.record_path}")
    return 0
