"""The report's Model and Preprocessing sections: the layer table and the code (or spec, or
module listing) of the run's model, and what happens to an image before its first layer.

The model is the one `cnnlab train` hands over, else rebuilt from best.pt (or last.pt); the
code is the copy the run kept when it trained, so the user's file may since have changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.data.augment import AugmentSpec
from cnnlab.data.configured import image_folder_rule
from cnnlab.data.mixing import MixSpec
from cnnlab.errors import CnnlabError
from cnnlab.models import summarize, summary_markdown
from cnnlab.models.classifier import Classifier
from cnnlab.models.spec_parse import is_spec_file
from cnnlab.models.user import is_user_model
from cnnlab.report.document import Block, Bullets, Code, Markdown, Section, Table, Text
from cnnlab.report.sources import RunRecord
from cnnlab.runs import RunDir, load_run


@dataclass(frozen=True)
class RunModel:
    """The run's model for the report, where it came from, or why there is none."""

    model: Classifier | None
    source: str = ""  # the checkpoint it was built from: best.pt, last.pt
    classes: int | None = None
    problem: str = ""  # why there is no model


def model_of(record: RunRecord, model: Classifier | None = None) -> RunModel:
    """`model` when given, else the run's model rebuilt from best.pt (or last.pt)."""
    run = RunDir(record.path)
    if model is not None:
        return RunModel(model, run.best_checkpoint.name, record.num_classes)
    if run.best_npz.is_file() and not run.best_checkpoint.is_file():
        return RunModel(None, problem="a NumPy scratch run")
    errors = []
    for which in ("best", "last"):
        try:
            loaded = load_run(record.path, which=which)
            return RunModel(loaded.model, f"{which}.pt", len(loaded.class_names))
        except Exception as error:  # any failure only costs these sections, not the report
            errors.append(f"{which}.pt: {error}")
    return RunModel(None, problem="; ".join(errors))


def npz_model_section(record: RunRecord, path: Path) -> Section:
    """A scratch run's parameters from its .npz weights: name, shape and count of each."""
    try:
        with np.load(path, allow_pickle=False) as weights:
            shapes = {
                n[len("params.") :]: weights[n].shape
                for n in weights.files
                if n.startswith("params.")
            }
    except (OSError, ValueError) as error:
        return Section("Model", (Text(f"Model summary not available: {path}: {error}"),))
    rows = tuple(
        (f"`{name}`", "×".join(map(str, shape)), f"{int(np.prod(shape)):,}")
        for name, shape in shapes.items()
    )
    total = sum(int(np.prod(shape)) for shape in shapes.values())
    intro = Text(
        f"`{record.model_name}` (NumPy scratch engine) from `{path.name}`: {total:,} parameters."
    )
    return Section("Model", (intro, Table(("parameter", "shape", "count"), rows, ("l", "l", "r"))))


def _layer_table(record: RunRecord, found: RunModel) -> list[Block]:
    """The per-layer table of the model, introduced by where it came from."""
    model = found.model
    assert model is not None
    rows = summarize(model.net, model.in_shape)
    shape = "×".join(map(str, model.in_shape))
    count = f", {found.classes} classes" if found.classes else ""
    intro = Text(f"`{record.model_name}` from `{found.source}`: input {shape}{count}.")
    table, _, notes = summary_markdown(rows).partition("\n\n")
    return [intro, Markdown(table), Bullets(tuple(notes.splitlines()))]


def code_blocks(record: RunRecord, model: Classifier | None) -> list[Block]:
    """The code the user wrote (its copy in the run), or a registered model's module listing."""
    run, name = RunDir(record.path), record.model_name
    try:
        saved = run.read_model_source()
    except CnnlabError as error:
        saved, name = None, f"{name} ({error})"
    if saved is not None and saved.kind == "python":
        path = run.model_source_path("python").name
        intro = f"The code of `{name}` as it was when the run trained (kept as `{path}`):"
        return [Text(intro), Code(saved.text.rstrip("\n"), "python")]
    if saved is not None:
        path = run.model_source_path("spec").name
        return [
            Text(f"The layer spec as it was when the run trained (kept as `{path}`):"),
            Code(saved.text.rstrip("\n"), "yaml"),
        ]
    listing = [Code(str(model), "text")] if model is not None else []
    if is_user_model(name) or is_spec_file(name) or name == "spec":
        note = f"The source of `{name}` was not kept in this run (trained before runs kept it)"
        return [Text(note + ("; its PyTorch modules:" if listing else ".")), *listing]
    if listing:
        intro = f"`{name}` is a built-in model (`cnnlab models`); its PyTorch modules:"
        return [Text(intro), *listing]
    return []


def model_section(record: RunRecord, found: RunModel) -> Section:
    """The per-layer table of the run's model, then its code, spec or module listing."""
    run = RunDir(record.path)
    if found.model is None and run.best_npz.is_file() and not run.best_checkpoint.is_file():
        return npz_model_section(record, run.best_npz)
    blocks = (
        _layer_table(record, found)
        if found.model is not None
        else [Text(f"Model summary not available: {found.problem}")]
    )
    return Section("Model", (*blocks, *code_blocks(record, found.model)))


def _per_channel(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"


def preprocessing_section(record: RunRecord, found: RunModel) -> Section:
    """What happens to an image between its file and the network's first layer."""
    data = record.config.get("data") or {}
    model_config = record.config.get("model") or {}
    rows: list[tuple[str, str]] = []
    model = found.model
    if model is not None:
        C, H, W = model.in_shape
        rows.append(("input", f"{C}×{H}×{W} (channels × height × width), pixels / 255 in [0, 1]"))
        mean, std = model.normalize.statistics()
        origin = (
            "the pretrained backbone's statistics"
            if model_config.get("pretrained")
            else "the train split's statistics, measured when training started"
        )
        rows.append(
            ("normalisation", f"(x − mean) / std per channel: mean {_per_channel(mean)}, "
             f"std {_per_channel(std)} ({origin})")
        )  # fmt: skip
        size = (
            model.architecture.get("size") if model.architecture.get("kind") == "transfer" else None
        )
        if size:
            rows.append(
                ("resize in the model", f"to {size[0]}×{size[1]} (bilinear), for the backbone")
            )
    rule = image_folder_rule(
        str(data.get("dataset", "")), data.get("image_size"), data.get("channels")
    )
    if rule:
        rows.append(("image folder decoding", rule))
    try:
        augment = AugmentSpec.parse(data.get("augment") or None).describe()
    except CnnlabError as error:
        augment = f"unreadable in config.yaml: {error}"
    rows.append(("augmentation", augment))
    try:
        mixing = MixSpec.of(data)
        if mixing.enabled:  # the loss then takes soft targets; train accuracy the dominant label
            rows.append(
                (
                    "batch mixing",
                    f"{mixing.describe()}; training accuracy counts each image's dominant label",
                )
            )
    except CnnlabError as error:
        rows.append(("batch mixing", f"unreadable in config.yaml: {error}"))
    rows.append(
        (
            "at test time",
            "each image and its mirror image, predictions averaged (model.tta_flip)"
            if model_config.get("tta_flip")
            else "each image once, no augmentation",
        )
    )
    blocks: list[Block] = [Table(("step", "what"), tuple(rows))]
    if model is None:
        blocks.insert(0, Text(f"Input and normalisation not available: {found.problem}"))
    return Section("Preprocessing", tuple(blocks))
