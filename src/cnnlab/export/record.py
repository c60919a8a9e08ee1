"""export.json: what was exported and the proof of each file, through one typed writer.

An export folder (a run's `export/` or `--out`) holds the files of `formats.FORMATS`,
`model.int8.onnx` with `--quantize int8`, and this record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cnnlab.atomic import write_text
from cnnlab.export.proof import Proof
from cnnlab.runs.rundir import json_safe

RECORD_FILE = "export.json"
INT8_FILE = "model.int8.onnx"


@dataclass(frozen=True)
class FileRecord:
    """One exported file and its proof."""

    format: str  # a FORMATS name, or "int8"
    file: str  # its name in the export folder
    bytes: int
    opset: int | None  # ONNX files only
    proof: Proof

    def as_json(self) -> dict[str, Any]:
        proof = self.proof
        return {
            "file": self.file,
            "bytes": self.bytes,
            "opset": self.opset,
            "tolerance": proof.tolerance,
            "max_abs_probability_difference": proof.max_abs_difference,
            "top1_agreement": proof.agreement,
            "run_accuracy": proof.run_accuracy,
            "export_accuracy": proof.export_accuracy,
            "accuracy_change": proof.export_accuracy - proof.run_accuracy,
            "disagreements": [asdict(d) for d in proof.disagreements],
            "passed": proof.passed if proof.tolerance is not None else None,
        }


@dataclass(frozen=True)
class ExportRecord:
    """Everything export.json says."""

    run: str  # the run directory
    cnnlab_version: str
    engine: str  # "torch" or "numpy"
    proof_split: str  # "test", or "train" when the run has no test split
    proof_images: int
    reference: str  # what the files were compared with
    note: str | None
    files: tuple[FileRecord, ...]
    int8: FileRecord | None = None
    int8_method: str | None = None

    @property
    def passed(self) -> bool:
        return all(f.proof.passed for f in self.files)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run": self.run,
            "cnnlab_version": self.cnnlab_version,
            "engine": self.engine,
            "proof": {
                "split": self.proof_split,
                "images": self.proof_images,
                "reference": self.reference,
                "note": self.note,
            },
            "formats": {f.format: f.as_json() for f in self.files},
            "passed": self.passed,
        }
        if self.int8 is not None:
            data["int8"] = {"method": self.int8_method, **self.int8.as_json()}
        return data


def write_export_record(folder: Path, record: ExportRecord) -> Path:
    """`folder`/export.json, written atomically."""
    text = json.dumps(json_safe(record.as_json()), indent=2) + "\n"
    return write_text(Path(folder) / RECORD_FILE, text)
