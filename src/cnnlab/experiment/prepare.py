"""Everything one run needs before its first step: the data (loaded once), the model, the
optimizer and schedule, and the batch loaders, built deterministically from the config."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cnnlab import transfer
from cnnlab.config import ExperimentConfig
from cnnlab.data import Dataset
from cnnlab.data.configured import load_configured
from cnnlab.data.input_stats import InputStats, input_stats, original_size
from cnnlab.data.loader import BatchLoader
from cnnlab.data.mapped import take_rows
from cnnlab.data.mixing import MixingLoader, training_loader
from cnnlab.data.profile import channel_stats
from cnnlab.models.architecture import classifier_from_record, describe, seeded
from cnnlab.models.classifier import Classifier, safe_std
from cnnlab.training import distributed
from cnnlab.training.class_weights import resolve_class_weights
from cnnlab.training.device import (
    configure_cpu,
    configure_cuda,
    default_eval_batch_size,
    resolve_device,
    use_channels_last,
)
from cnnlab.training.distributed import SINGLE, Topology
from cnnlab.training.ema import WeightAverage
from cnnlab.training.optim import build_optimizer, build_schedule

# The training images' input statistics (input_stats.json) are measured on at most this many
# of them, drawn once from the seed: the per-image spreads they hold need no more.
INPUT_STATS_IMAGES = 4096


@dataclass
class Prepared:
    """A run's data, model and optimisation objects, ready for the loop."""

    config: ExperimentConfig
    dataset: Dataset
    device: torch.device
    threads: int
    model: Classifier
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    train_loader: BatchLoader | MixingLoader  # mixing yields soft targets (B, K)
    val_loader: BatchLoader | None
    test_loader: BatchLoader | None
    topology: Topology = SINGLE  # this process among torchrun's (one process: SINGLE)
    class_weights: np.ndarray | None = None  # the training loss's, one per class (None: equal)
    ema: WeightAverage | None = None  # train.ema: the averaged weights that are evaluated

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.dataset.class_names)


def build_classifier(
    config: ExperimentConfig, in_shape: tuple[int, int, int], num_classes: int, mean, std
) -> Classifier:
    """The configured network behind a normalisation step, initialised from the run's seed."""
    record = {
        "architecture": describe(config.model.name, config.model.options),
        "in_shape": list(in_shape),
        "mean": np.asarray(mean).tolist(),
        "std": safe_std(std).tolist(),
    }  # what its checkpoints will hold: built the way `load_run` builds it back
    with seeded(config.train.seed):
        return classifier_from_record(record, num_classes)


def configured_model(config: ExperimentConfig, dataset: Dataset) -> Classifier:
    """A pretrained backbone with a new head, or a new network normalised by the training data."""
    train_split = dataset.split("train")
    shape, classes = train_split.image_shape, dataset.num_classes
    if config.model.pretrained:
        return transfer.pretrained_classifier(config, shape, classes)
    mean, std = channel_stats(train_split)
    return build_classifier(config, shape, classes, mean, std)


def prepare(
    config: ExperimentConfig, topology: Topology = SINGLE, dataset: Dataset | None = None
) -> Prepared:
    """Everything the loop needs, built from the config (deterministically from its seed).

    `dataset` is the configured data when the caller already loaded it (the range test
    before training), so one command loads it once. Under torchrun the training loader
    yields this rank's shard of every epoch.
    """
    threads = configure_cpu(config.train.threads)
    device = distributed.start(topology, resolve_device(config.train.device))
    configure_cuda(device)
    if dataset is None:
        dataset = load_configured(config.data, config.train.seed)
    model = configured_model(config, dataset)
    channels_last = use_channels_last(config.train.channels_last, device)
    model = model.to(
        device, memory_format=torch.channels_last if channels_last else torch.preserve_format
    )
    loader_options = {"device": device, "seed": config.train.seed, "channels_last": channels_last}
    eval_batch_size = config.train.eval_batch_size or default_eval_batch_size(device)
    eval_options = {**loader_options, "batch_size": eval_batch_size, "shuffle": False}
    train_loader = training_loader(  # ordered, augmented and mixed as config.data says
        dataset.split("train"),
        config.data,
        dataset.num_classes,
        batch_size=config.train.batch_size,
        rank=topology.rank,
        world_size=topology.world_size,
        **loader_options,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    if config.model.pretrained:  # named groups: head, then backbone (its own lr and start)
        params = transfer.param_groups(model, config.train, config.optim.lr)
    optimizer = build_optimizer(params, config.optim, device)
    scheduler = build_schedule(optimizer, config.optim, len(train_loader), config.train.epochs)
    split = dataset.splits.get
    return Prepared(
        config=config,
        dataset=dataset,
        device=device,
        threads=threads,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        train_loader=train_loader,
        val_loader=BatchLoader(split("val"), **eval_options) if split("val") else None,
        test_loader=BatchLoader(split("test"), **eval_options) if split("test") else None,
        topology=topology,
        class_weights=resolve_class_weights(
            config.data.class_weights, dataset.split("train").labels, dataset.num_classes
        ),
        ema=WeightAverage(model, config.train.ema) if config.train.ema is not None else None,
    )


def train_sample(dataset: Dataset, limit: int, seed: int) -> np.ndarray:
    """Up to `limit` positions of training images (all when fewer), drawn once from `seed`."""
    count = len(dataset.split("train"))
    if count <= limit:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=limit, replace=False))


def training_input_stats(config: ExperimentConfig, dataset: Dataset) -> InputStats:
    """The statistics `predict` compares its images with, of (a sample of) the training split."""
    train = dataset.split("train")
    positions = train_sample(dataset, INPUT_STATS_IMAGES, config.train.seed)
    original = original_size(config.data, train.image_shape[1:])
    return input_stats(take_rows(train.images, positions), original)  # a mapped split: a view
