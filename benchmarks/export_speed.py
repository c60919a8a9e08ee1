"""Export with proof, measured: each run exported to ONNX (and int8), its parity on the test
split, and CPU latency per image of torch against onnxruntime (issue #21).

    python benchmarks/export_speed.py RUN [RUN ...] [--threads 2] [--repeats 30]

For every run: `cnnlab.export(run, ["onnx"], quantize="int8")` (the proof is the export's:
export.json), then the time per image of the run's own model (torch, fp32, eval, no_grad),
of onnxruntime on model.onnx and on model.int8.onnx, at batch 1 and 128 (median of
--repeats timed calls after 3 warm-up calls, same input, same thread count). Prints one
Markdown table; ratios are against torch in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch


def median_seconds(call, repeats: int) -> float:
    for _ in range(3):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def latencies(run: Path, folder: Path, threads: int, repeats: int) -> dict[str, dict[int, float]]:
    """Seconds per image: {"torch" | "onnx" | "int8": {batch: seconds}}."""
    import onnxruntime as ort

    from cnnlab.runs import load_run

    model = load_run(run, "best", device="cpu").model.float().eval()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    sessions = {
        name: ort.InferenceSession(str(folder / file), options, providers=["CPUExecutionProvider"])
        for name, file in (("onnx", "model.onnx"), ("int8", "model.int8.onnx"))
    }
    torch.set_num_threads(threads)
    out: dict[str, dict[int, float]] = {"torch": {}, "onnx": {}, "int8": {}}
    rng = np.random.default_rng(0)
    for batch in (1, 128):
        images = rng.random((batch, *model.in_shape), dtype=np.float32)
        tensor = torch.from_numpy(images)

        def torch_call(batch_tensor: torch.Tensor = tensor) -> None:
            with torch.no_grad():
                model(batch_tensor)

        out["torch"][batch] = median_seconds(torch_call, repeats) / batch
        for name, session in sessions.items():
            out[name][batch] = (
                median_seconds(
                    lambda s=session, x=images: s.run(["logits"], {"images": x}), repeats
                )
                / batch
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    import cnnlab

    print(
        "| run | test images | top-1 agreement | max prob diff | acc torch | acc int8 (change) "
        "| int8 agreement | batch | torch ms/img | onnx ms/img (×) | int8 ms/img (×) |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    for run in args.runs:
        started = time.perf_counter()
        result = cnnlab.export(run, formats=["onnx"], quantize="int8")
        export_seconds = time.perf_counter() - started
        record = json.loads(result.record_path.read_text())
        onnx, int8 = record["formats"]["onnx"], record["int8"]
        timed = latencies(run, result.folder, args.threads, args.repeats)
        for batch in (1, 128):
            t, o, q = (timed[k][batch] * 1e3 for k in ("torch", "onnx", "int8"))
            print(
                f"| {run.name} | {record['proof']['images']:,} | {onnx['top1_agreement']:.2%} | "
                f"{onnx['max_abs_probability_difference']:.1e} | {onnx['run_accuracy']:.4f} | "
                f"{int8['export_accuracy']:.4f} ({int8['accuracy_change']:+.4f}) | "
                f"{int8['top1_agreement']:.2%} | {batch} | {t:.3f} | {o:.3f} ({t / o:.2f}×) | "
                f"{q:.3f} ({t / q:.2f}×) |"
            )
        print(f"<!-- {run}: export and proofs took {export_seconds:.1f} s -->", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
