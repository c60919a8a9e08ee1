"""After the last epoch, in the same process: evaluate once, draw the figures, write the report.

The model, data and predictions are the ones training held; nothing is loaded again except
the best weights. Each phase (the training images, the test split, metrics.json and
predictions.csv, the figures, TensorBoard, the dataset profile, the report) prints one line
with its time (unless quiet), and train.log ends with the run's one `test accuracy:` line.
Drawing and the report live in `drawing`, imported only when a run draws.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import numpy as np

from cnnlab.data.mapped import take_rows
from cnnlab.evaluate import EvalResult, evaluate_split, predict_probabilities, record_evaluation
from cnnlab.experiment.prepare import Prepared, train_sample
from cnnlab.experiment.results import summary_metrics
from cnnlab.lrfind import LrFindResult
from cnnlab.runs import Recorder, RunDir
from cnnlab.runs.readme import refresh_readme
from cnnlab.training.loop import History

# The evaluated weights' training accuracy is measured on at most this many training images,
# drawn once from the seed: a standard error under 0.011 (under 0.004 near 97% accuracy),
# enough to tell fitting from over-fitting, in about 0.1 s for the small nets on 2 cores.
TRAIN_EVAL_IMAGES = 2048


def preload_drawing() -> threading.Thread:
    """Import `drawing` (Matplotlib, the report) on a daemon thread, started now, so the
    import overlaps training; an error there surfaces again at the real import."""

    def load() -> None:
        try:
            import cnnlab.experiment.drawing  # noqa: F401
        except Exception:  # noqa: BLE001 - `finish`'s own import reports it
            pass

    thread = threading.Thread(target=load, name="cnnlab-preload-drawing", daemon=True)
    thread.start()
    return thread


class Phases:
    """Times the phases after training and says each one on the console (stderr, beside the
    epoch lines: progress, not results; train.log keeps its result line last)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.started = time.perf_counter()

    def done(self, text: str) -> None:
        seconds = time.perf_counter() - self.started
        if not self.recorder.quiet:
            print(f"{text} ({seconds:.1f}s)", file=sys.stderr, flush=True)
        self.started = time.perf_counter()


def _final_train_accuracy(prepared: Prepared) -> tuple[float, int]:
    """(accuracy, images) of the evaluated weights on (a sample of) the training split."""
    train = prepared.dataset.split("train")
    positions = train_sample(prepared.dataset, TRAIN_EVAL_IMAGES, prepared.config.train.seed)
    probabilities = predict_probabilities(
        prepared.model,
        take_rows(train.images, positions),  # a mapped split: read batch by batch
        tta_flip=prepared.config.model.tta_flip,
        batch_size=prepared.config.train.eval_batch_size,
        device=prepared.device,
        precision=prepared.config.train.precision,
    )  # (n, K)
    correct = probabilities.argmax(axis=1) == train.labels[positions]
    return float(np.mean(correct)), len(positions)


def finish(
    prepared: Prepared,
    recorder: Recorder,
    history: History,
    train_seconds: float,
    lr_find: LrFindResult | None = None,
    report: bool = True,
) -> dict[str, Any]:
    """Evaluate the best weights and (with `report`) draw the figures and write the report;
    the run's key numbers. With `report`, the figures that do not need the test predictions
    (the curves, the batch preview, filters and feature maps) start drawing in a forked child
    first, while this process evaluates."""
    phases = Phases(recorder)
    state = recorder.run.load_checkpoint("best", prepared.device)
    prepared.model.load_state_dict(state["model"])
    prepared.model.eval()
    if not report:
        final, result = _evaluate(prepared, recorder.run, train_seconds, phases)
        return summary_metrics(final, result.metrics if result else None)
    from cnnlab.experiment import drawing  # Matplotlib: loaded here, or ahead on a thread

    early = drawing.early_figures(prepared, recorder.run, history)
    try:
        final, result = _evaluate(prepared, recorder.run, train_seconds, phases)
    except BaseException:
        early.cancel()
        raise
    drawing.draw_and_report(prepared, recorder.run, history, result, lr_find, phases, early)
    return summary_metrics(final, result.metrics if result else None)


def _evaluate(
    prepared: Prepared, run: RunDir, train_seconds: float, phases: Phases
) -> tuple[dict[str, Any], EvalResult | None]:
    """The best weights (loaded) on the training sample and the test split, written to the run:
    (final.json's numbers, the test evaluation or None without a test split)."""
    config = prepared.config
    accuracy, images = _final_train_accuracy(prepared)
    final = {
        "train_seconds": train_seconds,
        "final_train_accuracy": accuracy,
        "final_train_images": images,
        "split_sizes": {name: len(split) for name, split in prepared.dataset.splits.items()},
    }
    run.log(f"train accuracy (evaluated weights, {images} training images): {accuracy:.4f}")
    phases.done(f"measured best.pt on {images} training images: train accuracy {accuracy:.4f}")
    test = prepared.dataset.splits.get("test")
    result: EvalResult | None = None
    if test is not None and len(test):
        started = time.perf_counter()
        result = evaluate_split(
            prepared.model,
            test,
            prepared.class_names,
            dataset=config.data.dataset,
            tta_flip=config.model.tta_flip,
            device=prepared.device,
            batch_size=config.train.eval_batch_size,
            precision=config.train.precision,
        )
        final["test_eval_seconds"] = time.perf_counter() - started
        phases.done(f"evaluated best.pt: test accuracy {result.accuracy:.4f} on {len(test)} images")
        run.write_final(final)
        record_evaluation(run, result)  # train.log's last line: the one test accuracy
        phases.done(
            f"wrote {run.test_metrics_path().name} and {run.predictions_path().name}, "
            f"{len(test)} rows"
        )
    else:
        run.write_final(final)
        run.log("no test split: the run is not evaluated")
        phases.done("no test split: the run is not evaluated")
        refresh_readme(run)  # with the evaluated training accuracy
    return final, result
