"""The experiment description: frozen dataclasses, one per section, validated on creation.

Every field has a default, so a config file names only what differs. Units and the reason
for non-obvious defaults sit beside each field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from cnnlab.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MONITORS = ("val_accuracy", "val_loss", "val_f1", "train_loss", "train_accuracy")
STRATEGIES = ("finetune", "linear-probe", "two-stage")  # how a pretrained backbone trains
STORAGES = ("auto", "memory", "mmap")  # data.storage: where decoded images live
TRACKERS = ("none", "mlflow")  # an experiment tracker logging each run besides its directory


def _require(condition: bool, key: str, expected: str, value: Any) -> None:
    if not condition:
        raise ConfigError(f"{key}: expected {expected}, got {value!r}")


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    _require(value in allowed, key, "one of " + ", ".join(allowed), value)


DEFAULT_MAX_GIB = 8.0  # data.max_gib: most GiB one dataset's decoded images may take
MAX_IMAGE_SIDE = 4096  # pixels: far beyond what a convnet here trains on, and 48 MiB an RGB image


def _check_image_size(size: tuple[int, int]) -> None:
    """(H, W) within 1..MAX_IMAGE_SIDE, or a ConfigError saying the memory it would take."""
    H, W = size
    _require(H >= 1 and W >= 1, "data.image_size", "positive (H, W) or one side, e.g. 64", size)
    if max(H, W) > MAX_IMAGE_SIDE:
        gib = H * W * 3 / 2**30
        raise ConfigError(
            f"data.image_size: {H}x{W} is beyond the largest side cnnlab decodes to "
            f"({MAX_IMAGE_SIDE}); it would take {gib:,.1f} GiB per RGB image as uint8 "
            f"({gib * 1000:,.0f} GiB for 1,000 images); give (H, W) or one side, e.g. 64"
        )


def _check_class_weights(weights: str | tuple[float, ...]) -> None:
    """none, auto, or a non-empty list of positive finite numbers."""
    expected = "none, auto or a list of positive finite weights, one per class"
    if isinstance(weights, str):
        _choice("data.class_weights", weights, ("none", "auto"))
        return
    _require(
        len(weights) > 0 and all(math.isfinite(w) and w > 0 for w in weights),
        "data.class_weights", expected, list(weights),
    )  # fmt: skip


@dataclass(frozen=True)
class DataConfig:
    """Which images: the dataset, its subset and split, and their augmentation."""

    dataset: str = "mnist-sample"
    classes: tuple[int | str, ...] | None = None  # by index or name; relabelled 0..k-1
    per_class: int | None = None  # training images per class, e.g. 16
    fraction: float | None = None  # of the training set, stratified
    val: float | int | None = None  # validation split from train: a fraction or a count
    augment: str = ""  # e.g. "crop4,flip,cutout8"
    data_dir: str | None = None
    offline: bool = False
    # (H, W) for image folders, or one side for square images (64 = 64x64); None = the most
    # common size in the folder
    image_size: tuple[int, int] | int | None = None
    channels: int | None = None  # for image folders; None = from the images
    skip_bad: bool = False  # skip unreadable images instead of failing
    # GiB: the most memory one dataset's decoded images, or any one file inflated to read
    # them, may take; a bigger load is refused before it starts, saying what it would need
    max_gib: float = DEFAULT_MAX_GIB
    # where an image folder's decoded images live: memory, mmap (decoded once into a file of
    # the cnnlab cache and read from disk batch by batch, for data larger than memory) or auto
    # (mmap when they would pass half the memory this process may use, or data.max_gib)
    storage: str = "auto"
    # training-loss weight of each class: none, auto (inverse class frequency) or one weight
    # per class (the count is checked once the classes are known)
    class_weights: str | tuple[float, ...] = "none"
    # the training order: uniform (a shuffle) or balanced (every class equally often per epoch,
    # drawn with replacement; the epoch stays as long as the training split)
    sampler: str = "uniform"
    # a long-tailed training split: the largest class's images over the smallest's (> 1),
    # on an exponential profile over the classes; the test split stays whole
    imbalance: float | None = None
    # batch mixing of the training images (soft targets), the Beta(alpha, alpha) parameter of
    # each; 0 = off. MixUp (Zhang et al. 2018) blends two images, CutMix (Yun et al. 2019)
    # pastes a box of one into the other; with both on each batch takes one (p = 1/2)
    mixup: float = 0.0  # e.g. 0.2
    cutmix: float = 0.0  # e.g. 1.0

    def __post_init__(self) -> None:
        _require(bool(self.dataset), "data.dataset", "a dataset name", self.dataset)
        for key in ("mixup", "cutmix"):
            alpha = getattr(self, key)
            _require(
                isinstance(alpha, (int, float)) and not isinstance(alpha, bool)
                and math.isfinite(alpha) and alpha >= 0,
                f"data.{key}", "a finite Beta alpha >= 0 (0 = off), e.g. 0.2", alpha,
            )  # fmt: skip
        _check_class_weights(self.class_weights)
        _choice("data.sampler", self.sampler, ("uniform", "balanced"))
        _choice("data.storage", self.storage, STORAGES)
        if self.imbalance is not None:
            _require(
                math.isfinite(self.imbalance) and self.imbalance > 1,
                "data.imbalance", "a ratio > 1 (largest class / smallest), e.g. 10", self.imbalance,
            )  # fmt: skip
        _require(
            isinstance(self.max_gib, (int, float)) and 0 < self.max_gib <= 1024,
            "data.max_gib", "GiB in (0, 1024], e.g. 8", self.max_gib,
        )  # fmt: skip
        if self.per_class is not None:
            _require(self.per_class >= 1, "data.per_class", "an integer >= 1", self.per_class)
        if self.fraction is not None:
            _require(0 < self.fraction <= 1, "data.fraction", "a number in (0, 1]", self.fraction)
        if self.per_class is not None and self.fraction is not None:
            raise ConfigError("data.per_class and data.fraction: give one of them, not both")
        if isinstance(self.val, float):
            _require(0 < self.val < 1, "data.val", "a fraction in (0, 1) or a count >= 1", self.val)
        elif self.val is not None:
            _require(self.val >= 1, "data.val", "a fraction in (0, 1) or a count >= 1", self.val)
        if self.channels is not None:
            _require(self.channels in (1, 3), "data.channels", "1 or 3", self.channels)
        if isinstance(self.image_size, int):  # one side: a square
            object.__setattr__(self, "image_size", (self.image_size, self.image_size))
        if self.image_size is not None:
            _check_image_size(self.image_size)


@dataclass(frozen=True)
class ModelConfig:
    """Which network: a registry name, a spec file or `file.py:Class`, and its options."""

    name: str = "conv1"
    options: dict[str, Any] = field(default_factory=dict)
    # a cnnlab run directory, a torchvision-format ResNet .pth file, or "imagenet" (the
    # official ImageNet weights of model.name); its head is replaced for the new classes
    pretrained: str | None = None
    resize: bool = False  # with pretrained: resize images to the backbone's (H, W) in the model
    # test-time augmentation: in eval mode predict the mean of the logits of each image and of
    # its left-right mirror (for datasets whose classes are mirror-symmetric, e.g. CIFAR-10)
    tta_flip: bool = False

    def __post_init__(self) -> None:
        _require(bool(self.name), "model.name", "a model name", self.name)
        if self.pretrained is not None:
            _require(
                bool(self.pretrained),
                "model.pretrained",
                "a run directory, a weights file or imagenet",
                self.pretrained,
            )


@dataclass(frozen=True)
class OptimConfig:
    """How weights move: optimizer, learning rate and its schedule, regularisation.

    The optimizer and schedule names are keys of the tables in `cnnlab.training.optim`, which
    checks them (`check_optim`): this package sits below `training` and never imports it.
    """

    optimizer: str = "adam"  # a key of training.optim.OPTIMIZERS
    lr: float = 1e-3  # peak learning rate
    momentum: float = 0.9  # SGD and RMSprop only
    nesterov: bool = False  # SGD only
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)  # Adam and AdamW
    schedule: str = "constant"  # a key of training.optim.SCHEDULES
    warmup_epochs: float = 0.0  # linear warm-up from lr/100, before any schedule
    step_size: int = 10  # epochs between decays, schedule "step"
    gamma: float = 0.1  # decay factor, schedule "step"
    final_lr_fraction: float = 0.0  # cosine and linear end at lr * this
    plateau_factor: float = 0.1  # schedule "plateau": lr times this when train.monitor stalls
    plateau_patience: int = 2  # schedule "plateau": epochs without improvement before a cut
    min_lr: float = 0.0  # schedule "plateau": the cuts stop at this learning rate
    label_smoothing: float = 0.0
    grad_clip: float | None = None  # max global gradient norm

    def __post_init__(self) -> None:
        _require(self.lr > 0, "optim.lr", "a positive number", self.lr)
        _require(0 <= self.momentum < 1, "optim.momentum", "a number in [0, 1)", self.momentum)
        _require(self.weight_decay >= 0, "optim.weight_decay", "a number >= 0", self.weight_decay)
        _require(
            self.warmup_epochs >= 0, "optim.warmup_epochs", "a number >= 0", self.warmup_epochs
        )
        _require(self.step_size >= 1, "optim.step_size", "an integer >= 1", self.step_size)
        _require(0 < self.gamma <= 1, "optim.gamma", "a number in (0, 1]", self.gamma)
        _require(
            0 < self.plateau_factor < 1,
            "optim.plateau_factor",
            "a number in (0, 1)",
            self.plateau_factor,
        )
        _require(
            self.plateau_patience >= 1,
            "optim.plateau_patience",
            "an integer >= 1",
            self.plateau_patience,
        )
        _require(self.min_lr >= 0, "optim.min_lr", "a number >= 0", self.min_lr)
        _require(
            0 <= self.label_smoothing < 1,
            "optim.label_smoothing",
            "a number in [0, 1)",
            self.label_smoothing,
        )
        if self.grad_clip is not None:
            _require(self.grad_clip > 0, "optim.grad_clip", "a positive number", self.grad_clip)
        if self.nesterov:
            _require(
                self.optimizer == "sgd" and self.momentum > 0,
                "optim.nesterov",
                "only with optimizer sgd and momentum > 0",
                self.nesterov,
            )


@dataclass(frozen=True)
class TrainConfig:
    """How long and on what: epochs, batches, evaluation cadence, stopping, device, seed."""

    epochs: int = 10
    batch_size: int = 64
    # images per evaluation pass; None = 128 on a CPU (stays in its caches), 1024 on a GPU
    eval_batch_size: int | None = None
    eval_every: int = 0  # also validate every N iterations (0 = once per epoch)
    monitor: str = "val_accuracy"  # picks best.pt and drives early stopping
    patience: int | None = None  # epochs without improvement before stopping; None = never
    seed: int = 0
    device: str = "auto"  # auto = cuda, then mps, then cpu
    precision: str = "auto"  # auto = bf16 autocast on CUDA, and on CPUs with bf16 units; else fp32
    channels_last: bool | None = None  # None = on for CUDA and CPU (faster convs on both)
    threads: int | None = None  # CPU threads; None = the cores available to this process
    # torch.compile the training step's model; off by default: on an H100 it made the fast
    # CIFAR-10 net's epochs no faster and cost 7-50 s of compiling (benchmarks/README.md)
    compile: bool = False
    watch_test: bool = False  # also record test metrics every epoch (never used for selection)
    tensorboard: bool = False  # also log to <run>/tensorboard/ (needs cnnlab[tensorboard])
    tracker: str = "none"  # mlflow: also log params, metrics and artifacts (cnnlab[mlflow])
    # the tracker's store; None = $MLFLOW_TRACKING_URI, else sqlite:///<working dir>/mlflow.db
    tracking_uri: str | None = None
    experiment_name: str | None = None  # the tracker's experiment; None = the dataset's name
    strategy: str = "finetune"  # with model.pretrained: finetune, linear-probe or two-stage
    backbone_lr_mult: float = 1.0  # the pretrained backbone's lr = optim.lr * this
    head_epochs: int = 1  # two-stage: epochs training the head alone before all layers
    lr_find: bool = False  # run the learning-rate range test first; its plot joins the report
    ema: float | None = None  # decay of a moving average of the weights, which is evaluated

    def __post_init__(self) -> None:
        _require(self.epochs >= 1, "train.epochs", "an integer >= 1", self.epochs)
        _require(self.batch_size >= 1, "train.batch_size", "an integer >= 1", self.batch_size)
        _require(
            self.eval_batch_size is None or self.eval_batch_size >= 1,
            "train.eval_batch_size",
            "an integer >= 1 (or null for the device's default)",
            self.eval_batch_size,
        )
        _require(self.eval_every >= 0, "train.eval_every", "an integer >= 0", self.eval_every)
        _require(
            self.ema is None or 0 < self.ema < 1,
            "train.ema",
            "a decay in (0, 1), e.g. 0.999 (or null for none)",
            self.ema,
        )
        _choice("train.monitor", self.monitor, MONITORS)
        if self.patience is not None:
            _require(self.patience >= 1, "train.patience", "an integer >= 1", self.patience)
        _choice("train.device", self.device.split(":")[0], DEVICES)
        _choice("train.precision", self.precision, PRECISIONS)
        if self.threads is not None:
            _require(self.threads >= 1, "train.threads", "an integer >= 1", self.threads)
        _choice("train.strategy", self.strategy, STRATEGIES)
        _choice("train.tracker", self.tracker, TRACKERS)
        named = {"tracking_uri": "a store URI", "experiment_name": "an experiment name"}
        for key, expected in named.items():
            value = getattr(self, key)
            _require(
                value is None or bool(value.strip()), f"train.{key}", f"{expected} or null", value
            )
        _require(
            self.backbone_lr_mult > 0,
            "train.backbone_lr_mult",
            "a positive number",
            self.backbone_lr_mult,
        )
        _require(self.head_epochs >= 1, "train.head_epochs", "an integer >= 1", self.head_epochs)


@dataclass(frozen=True)
class ExperimentConfig:
    """One training run: data, model, optimisation and loop settings, and where it is written."""

    name: str = ""  # run directory name; empty = <dataset>-<model>
    out: str = "runs"  # parent directory of run directories
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        """Checks across sections: the transfer settings need a pretrained backbone."""
        train, pretrained = self.train, self.model.pretrained
        needs_backbone = (
            ("train.strategy", train.strategy, train.strategy != "finetune"),
            ("train.backbone_lr_mult", train.backbone_lr_mult, train.backbone_lr_mult != 1),
            ("model.resize", self.model.resize, self.model.resize),
        )
        for key, value, used in needs_backbone:
            _require(not used or bool(pretrained), key, "model.pretrained to be set", value)
        if train.strategy == "linear-probe":
            _require(
                train.backbone_lr_mult == 1,
                "train.backbone_lr_mult",
                "1 with train.strategy linear-probe (the backbone is frozen)",
                train.backbone_lr_mult,
            )
        if train.strategy == "two-stage":
            _require(
                train.head_epochs < train.epochs,
                "train.head_epochs",
                f"fewer than train.epochs ({train.epochs}) with train.strategy two-stage",
                train.head_epochs,
            )

    @property
    def dataset_name(self) -> str:
        """The dataset's short name: `mnist`, or an image folder's last path part."""
        return self.data.dataset.replace("imagefolder:", "").rstrip("/").split("/")[-1]

    @property
    def run_name(self) -> str:
        """The run directory's name: `name`, or `<dataset>-<model>` when none is given."""
        if self.name:
            return self.name
        dataset = self.dataset_name
        model = self.model.name.split("/")[-1].replace(".py:", "-").replace(".yaml", "")
        return f"{dataset}-{model}"
