"""The try-it prediction: one uploaded image through a finished run's best model, with its
top classes, the input check's warnings, Grad-CAM and the first two conv layers' feature maps.

Every step is cnnlab's own: safe decoding (`data.images`), the input check and inversion
(`evaluate`), the one inference path (`evaluate.inference`), Grad-CAM and feature-map rows
(`visualize`); models load weights-only (`runs.load_run`) and stay cached per checkpoint mtime.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnlab.data.images import decode_image_with_header, read_image_size_and_mode
from cnnlab.errors import CnnlabError, DataFormatError
from cnnlab.evaluate.inference import predict_probabilities
from cnnlab.evaluate.inputs import invert
from cnnlab.evaluate.predicting import check_inputs
from cnnlab.runs import SETTLED, RunDir
from cnnlab.runs.load import LoadedRun, load_run
from cnnlab.visualize.feature_maps import MAX_CHANNELS, capture_activations, layer_rows
from cnnlab.visualize.gradcam import grad_cam, heat_overlay
from cnnlab.visualize.layers import conv_layers, gradcam_layer
from cnnlab.visualize.mosaic import rgb_images, zoom, zoom_factor
from cnnlab.visualize.save import PNG_DPI, png_bytes

MAX_BYTES = 5 * 1024 * 1024  # an upload's size limit
MAX_SIDE = 4096  # an upload's width and height limit, in pixels
PICTURE_PIXELS = 224  # the input and Grad-CAM pictures are zoomed to about this side
FEATURE_LAYERS = 2  # feature maps of the first conv layers


class BadUpload(CnnlabError):
    """An upload that is not a usable image, or bad form fields (the app answers 400)."""


class TooLarge(CnnlabError):
    """An upload over the size limit (the app answers 413)."""


class NotReady(CnnlabError):
    """A run that cannot predict yet: not finished, or without best.pt (the app answers 409)."""


class ModelCache:
    """Loaded models by run directory, reloaded when best.pt's mtime changes; predictions run
    one at a time (Grad-CAM and feature maps hook the shared model's layers)."""

    def __init__(self) -> None:
        self._models: dict[Path, tuple[int, LoadedRun]] = {}
        self._lock = threading.RLock()  # get() inside predict() takes it again

    def get(self, run_dir: Path) -> LoadedRun:
        """The run's best model (weights-only load); a run that is not settled raises NotReady."""
        run = RunDir(run_dir)
        status = run.read_status().get("status")
        if status not in SETTLED:
            raise NotReady(
                f"run {run_dir.name} is {status}: predictions need a finished run "
                f"({' or '.join(SETTLED)})"
            )
        try:
            mtime = os.stat(run.best_checkpoint).st_mtime_ns
        except OSError:
            raise NotReady(f"run {run_dir.name} has no {run.best_checkpoint.name}") from None
        with self._lock:
            cached = self._models.get(run_dir)
            if cached is None or cached[0] != mtime:
                cached = (mtime, load_run(run_dir, "best", device="cpu"))
                self._models[run_dir] = cached
        return cached[1]

    def predict(self, run_dir: Path, data: bytes, name: str, *, inverted: bool, k: int) -> dict:
        """`predict_upload` with the run's cached model, one prediction at a time."""
        with self._lock:
            return predict_upload(self.get(run_dir), data, name, inverted=inverted, k=k)


def decode_upload(
    data: bytes, name: str, in_shape: tuple[int, int, int]
) -> tuple[np.ndarray, tuple[int, int]]:
    """The upload as the model takes it, uint8 (1, C, H, W), and its own (H, W); refused over
    MAX_BYTES (TooLarge), over MAX_SIDE pixels a side or undecodable (BadUpload)."""
    if len(data) > MAX_BYTES:
        raise TooLarge(
            f"upload {name}: {len(data):,} bytes, over the limit of {MAX_BYTES:,} (5 MB)"
        )
    C, H, W = in_shape
    source = f"upload {name}"
    try:
        (height, width), _ = read_image_size_and_mode(data, source)  # the header alone
    except DataFormatError:
        height = width = 0  # not an image, or a bomb: decoding below says which, with the limit
    if max(height, width) > MAX_SIDE:
        raise BadUpload(
            f"{source}: {width}x{height} pixels, over the limit of {MAX_SIDE}x{MAX_SIDE}"
        )
    try:
        image, (size, _) = decode_image_with_header(
            data, source=source, channels=C, size=(H, W), max_pixels=MAX_SIDE * MAX_SIDE
        )
    except DataFormatError as error:
        raise BadUpload(str(error)) from None
    return np.array(image[None]), size  # (1, C, H, W), writable (torch refuses read-only arrays)


def png_base64(rgb: np.ndarray) -> str:
    """uint8 RGB (H, W, 3) as a base64 PNG (encoded by visualize's writer)."""
    alpha = np.full((*rgb.shape[:2], 1), 255, np.uint8)
    rgba = np.ascontiguousarray(np.concatenate([rgb, alpha], axis=2))  # (H, W, 4)
    return base64.b64encode(png_bytes(rgba, PNG_DPI)).decode("ascii")


def predict_upload(
    loaded: LoadedRun, data: bytes, name: str, *, inverted: bool = False, k: int = 5
) -> dict[str, Any]:
    """The try-it answer for one uploaded image (see the serve contract's /api/predict)."""
    started = time.perf_counter()
    classes = len(loaded.class_names)
    if not 1 <= k <= classes:
        raise BadUpload(f"k={k}: expected a number of top classes from 1 to {classes}")
    images, size = decode_upload(data, name, loaded.in_shape)  # (1, C, H, W) uint8
    if inverted:
        images = invert(images)
    stats = RunDir(loaded.path).read_input_stats()
    unchecked = f"run {loaded.path.name} has no input_stats.json"
    found, notes = check_inputs(stats, images, [name], [size], inverted, unchecked)
    probabilities = predict_probabilities(
        loaded.model,
        images,
        tta_flip=loaded.config.model.tta_flip,
        precision=loaded.config.train.precision,
    )[0]  # (K,)
    order = np.argsort(-probabilities, kind="stable")[:k]
    tensor = torch.from_numpy(images).to(torch.float32) / 255  # (1, C, H, W) in [0, 1]
    layer_name, layer = gradcam_layer(loaded.model)
    heat = grad_cam(loaded.model, tensor, layer, classes=[int(order[0])])  # (1, H, W)
    factor = zoom_factor(max(loaded.in_shape[1:]), PICTURE_PIXELS)
    pictures = zoom(rgb_images(images), factor)  # (1, h, w, 3)
    activations, _ = capture_activations(
        loaded.model, tensor, conv_layers(loaded.model)[:FEATURE_LAYERS]
    )
    return {
        "top": [
            {
                "class": loaded.class_names[i],
                "index": int(i),
                "probability": float(probabilities[i]),
            }
            for i in order
        ],
        "warnings": [*found, *notes],
        "gradcam_png": png_base64(heat_overlay(pictures, heat, factor)[0]),
        "gradcam_layer": layer_name,
        "input_png": png_base64(pictures[0]),
        "feature_maps": [
            {"layer": conv, "png": png_base64(layer_rows(maps, MAX_CHANNELS)[0])}
            for conv, maps in activations.items()
        ],
        "milliseconds": (time.perf_counter() - started) * 1000,
    }
