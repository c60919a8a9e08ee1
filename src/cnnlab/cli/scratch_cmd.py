"""`cnnlab scratch train [CONFIG] [flags]` and `cnnlab scratch gradcheck`: the NumPy engine."""

from __future__ import annotations

import argparse

from cnnlab.cli.arguments import add_config_arguments, comma_list, config_overrides, flag_values
from cnnlab.config import Overrides, load_experiments
from cnnlab.errors import ConfigError

SCRATCH_MODELS = ("three_layer_convnet", "fc")
# flag -> dotted config key; each flag sets its key to the flag's typed value (as in `train`)
FLAG_KEYS = {
    "dataset": "data.dataset",
    "data_dir": "data.data_dir",
    "per_class": "data.per_class",
    "val": "data.val",
    "epochs": "train.epochs",
    "lr": "optim.lr",
    "optimizer": "optim.optimizer",
    "batch_size": "train.batch_size",
    "seed": "train.seed",
    "threads": "train.threads",
    "out": "out",
    "name": "name",
    "filters": "model.options.num_filters",
    "filter_size": "model.options.filter_size",
    "weight_scale": "model.options.weight_scale",
    "reg": "model.options.reg",
    "dropout": "model.options.dropout",
    "dtype": "model.options.dtype",
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the `scratch` verb group: train and gradcheck."""
    scratch = subparsers.add_parser(
        "scratch", help="the NumPy engine: train a ConvNet written from scratch, check gradients"
    )
    verbs = scratch.add_subparsers(dest="scratch_verb", metavar="VERB", required=True)
    train = verbs.add_parser(
        "train",
        help="train a NumPy model with the Solver; writes a normal run directory",
        description="Train scratch:three_layer_convnet or scratch:fc from flags and/or a YAML "
        "config; the run directory gets the usual files, figures and report.",
    )
    add_config_arguments(train, "optim.momentum=0")
    train.add_argument("--quiet", action="store_true", help="no epoch lines")
    train.add_argument("--offline", action="store_true", help="never download data")
    train.add_argument("--no-report", action="store_true", help="skip figures and the report")
    group = train.add_argument_group("common settings (shortcuts for config keys)")
    group.add_argument(
        "--dataset", help="cifar10, mnist, fashion-mnist, a folder or archive PATH..."
    )
    group.add_argument("--data-dir", help="directory searched first for datasets")
    group.add_argument("--per-class", type=int, help="training images per class")
    group.add_argument("--val", type=int, help="validation images drawn from train (default 1000)")
    group.add_argument(
        "--model", choices=SCRATCH_MODELS, help="default three_layer_convnet (without a config)"
    )
    group.add_argument(
        "--hidden", help="hidden units: one number for the ConvNet, a list (100,100) for fc"
    )
    group.add_argument("--filters", type=int, help="ConvNet: number of conv filters")
    group.add_argument("--filter-size", type=int, help="ConvNet: odd kernel size")
    group.add_argument("--weight-scale", type=float, help="std of the initial weights")
    group.add_argument("--reg", type=float, help="L2 strength: loss + 0.5 * reg * sum(W**2)")
    group.add_argument("--dropout", type=float, help="fc: drop probability")
    group.add_argument("--batchnorm", action="store_true", help="fc: batch norm after each affine")
    group.add_argument("--dtype", choices=("float32", "float64"), help="default float32")
    group.add_argument("--epochs", type=int)
    group.add_argument("--lr", type=float, help="learning rate")
    group.add_argument("--lr-decay", type=float, help="learning rate factor per epoch")
    group.add_argument("--optimizer", choices=("adam", "sgd", "rmsprop"))
    group.add_argument("--batch-size", type=int)
    group.add_argument("--seed", type=int)
    group.add_argument("--threads", type=int, help="BLAS threads (default: the library's)")
    group.add_argument("--out", help="parent directory of run directories (default runs)")
    group.add_argument("--name", help="run directory name")
    train.set_defaults(func=run_scratch_train)

    gradcheck = verbs.add_parser(
        "gradcheck",
        help="relative errors of every layer's and model's gradients against centred differences",
    )
    gradcheck.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    gradcheck.set_defaults(func=run_gradcheck)


def overrides_from_flags(args: argparse.Namespace) -> Overrides:
    """The typed values the flags stand for, then the `--set` texts (which win)."""
    model = args.model or SCRATCH_MODELS[0]
    values = {"model.name": f"scratch:{model}"} if args.model or args.config is None else {}
    values |= flag_values(args, FLAG_KEYS)
    if args.hidden is not None:
        sizes = comma_list(args.hidden)
        if model == "fc":
            values["model.options.hidden_dims"] = sizes
        elif len(sizes) == 1:
            values["model.options.hidden_dim"] = sizes[0]
        else:
            raise ConfigError(f"--hidden: the ConvNet has one hidden layer, got {args.hidden!r}")
    if args.batchnorm:
        values["model.options.normalization"] = "batchnorm"
    if args.lr_decay is not None:
        values |= {"optim.schedule": "step", "optim.step_size": 1, "optim.gamma": args.lr_decay}
    if args.offline:
        values["data.offline"] = True
    return config_overrides(args, values)


def run_scratch_train(args: argparse.Namespace) -> int:
    """Train one scratch run (figures and report too unless --no-report) and say where it is."""
    from cnnlab.experiment.scratch_run import train as train_scratch  # heavy: when run

    configs = load_experiments(args.config, overrides_from_flags(args))
    if len(configs) != 1:
        raise ConfigError(f"cnnlab scratch train runs one config, got {len(configs)} (compare:)")
    result = train_scratch(configs[0], quiet=args.quiet, report=not args.no_report)
    history, metrics = result.history, result.metrics
    print(
        f"best epoch {history.best_epoch}: val accuracy {history.best_val_accuracy:.4f}; "
        f"train accuracy {metrics.get('train_accuracy', float('nan')):.4f}; "
        f"test accuracy {metrics.get('test_accuracy', float('nan')):.4f}; "
        f"{metrics.get('train_seconds', 0):.1f}s"
    )
    report = "" if args.no_report else f"  (report: {result.run_dir / 'report.html'})"
    print(f"run directory: {result.run_dir}{report}")
    return 0


def run_gradcheck(args: argparse.Namespace) -> int:
    """Print the gradient-check table; exit 1 when a gradient is above its bound."""
    from cnnlab.scratch.checks import format_report, gradient_report

    rows = gradient_report(args.seed)
    print(format_report(rows))
    return 0 if all(row.ok for row in rows) else 1
