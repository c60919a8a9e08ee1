"""`cnnlab train [CONFIG] [flags] [--set key=value]...` and `cnnlab train --resume RUN_DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path

from cnnlab.cli.arguments import add_config_arguments, comma_list, config_overrides, flag_values
from cnnlab.config import Overrides, load_experiments
from cnnlab.errors import ConfigError

# flag -> dotted config key; each flag sets its key to the flag's typed value: an int or float
# where argparse types it, else the string the user typed (`--name no` is the name 'no')
FLAG_KEYS = {
    "dataset": "data.dataset",
    "classes": "data.classes",
    "per_class": "data.per_class",
    "data_dir": "data.data_dir",
    "augment": "data.augment",
    "model": "model.name",
    "pretrained": "model.pretrained",
    "strategy": "train.strategy",
    "epochs": "train.epochs",
    "lr": "optim.lr",
    "optimizer": "optim.optimizer",
    "schedule": "optim.schedule",
    "batch_size": "train.batch_size",
    "seed": "train.seed",
    "device": "train.device",
    "out": "out",
    "name": "name",
    "tensorboard": "train.tensorboard",
    "skip_bad": "data.skip_bad",
}
FLAG_PARSERS = {"classes": comma_list}  # flag -> its text to its value: "0,1,7" -> [0, 1, 7]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model; writes a run directory",
        description="Train from a YAML config and/or flags. A config with a `compare:` list "
        "trains one run per entry and prints them side by side.",
    )
    add_config_arguments(parser, "optim.weight_decay=5e-4")
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue a run from last.pt; with --epochs N, to N epochs in all (a finished run "
        "trains further; its schedule is re-planned over N epochs)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    parser.add_argument("--offline", action="store_true", help="never download data")
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="skip the figures and the report (the run is still evaluated)",
    )
    group = parser.add_argument_group("common settings (shortcuts for config keys)")
    group.add_argument(
        "--dataset",
        help="mnist, fashion-mnist, cifar10, mnist-sample, or an image folder or archive: "
        "PATH or imagefolder:PATH",
    )
    group.add_argument("--classes", help="class indices or names, e.g. 0,1,7")
    group.add_argument("--per-class", type=int, help="training images per class")
    group.add_argument("--data-dir", help="directory searched first for datasets")
    group.add_argument("--augment", help="e.g. crop4,flip,cutout8")
    group.add_argument("--model", help="registry name, spec file, or file.py:Class")
    group.add_argument(
        "--pretrained",
        metavar="RUN_DIR_OR_FILE",
        help="start from a backbone: a cnnlab run directory, a torchvision-format ResNet .pth "
        "file, or imagenet (official weights of --model resnet18/resnet34); new head",
    )
    group.add_argument(
        "--strategy", help="with --pretrained: finetune (default), linear-probe or two-stage"
    )
    group.add_argument("--epochs", type=int)
    group.add_argument("--lr", type=float)
    group.add_argument("--optimizer")
    group.add_argument("--schedule")
    group.add_argument("--batch-size", type=int)
    group.add_argument("--seed", type=int)
    group.add_argument("--device", help="auto, cpu, cuda, cuda:1, mps")
    group.add_argument("--out", help="parent directory of run directories (default runs)")
    group.add_argument("--name", help="run directory name")
    group.add_argument(
        "--skip-bad",
        action="store_true",
        default=None,  # None: leave the config's data.skip_bad as it is
        help="skip images that cannot be read instead of failing (the report lists them)",
    )
    group.add_argument(
        "--tensorboard",
        action="store_true",
        default=None,  # None: leave the config's train.tensorboard as it is
        help="also log to <run>/tensorboard/ (needs: pip install cnnlab[tensorboard])",
    )
    parser.set_defaults(func=run_train)


def overrides_from_flags(args: argparse.Namespace) -> Overrides:
    """The typed values the shortcut flags stand for, then the `--set` texts (which win)."""
    values = flag_values(args, FLAG_KEYS, FLAG_PARSERS)
    if args.offline:
        values["data.offline"] = True
    return config_overrides(args, values)


def check_resume_flags(args: argparse.Namespace) -> None:
    """A resumed run keeps its config.yaml: refuse a config or flag that would be ignored."""
    given = [
        f"--{flag.replace('_', '-')}"
        for flag in FLAG_KEYS
        if flag != "epochs" and getattr(args, flag, None) is not None
    ]
    given += ["--set"] * bool(args.overrides) + ["--offline"] * args.offline
    if args.config is not None:
        given.insert(0, str(args.config))
    if given:
        raise ConfigError(
            f"--resume {args.resume} continues the run as its config.yaml says; "
            f"{', '.join(given)} cannot change it (only --epochs N, to train to N epochs in all)"
        )


def is_recipe(path: Path | None) -> bool:
    """Whether `path` is a sweep spec (a recipe: `name`, `base`, maybe `grid`) rather than an
    experiment config."""
    if path is None or not Path(path).is_file():
        return False
    from cnnlab.config.load import read_yaml

    data = read_yaml(Path(path))
    return isinstance(data, dict) and "base" in data


def recipe_config(path: Path, args: argparse.Namespace, overrides: Overrides):
    """The one run of a single-run recipe, as `cnnlab train` runs it: named after the recipe
    (or --name) in --out. A recipe of several runs is refused with the sweep command."""
    import dataclasses

    from cnnlab.sweep import expand, load_spec

    spec = load_spec(path, overrides=overrides)
    runs = expand(spec, Path(args.out or "runs"))
    if len(runs) != 1:
        raise ConfigError(
            f"{path} is a recipe of {len(runs)} runs; train them with: cnnlab sweep {path}"
        )
    return dataclasses.replace(runs[0].config, name=args.name or spec.name, out=args.out or "runs")


def run_train(args: argparse.Namespace) -> int:
    from cnnlab.experiment import console_table, recall_line, resume, train_all  # when run

    report = not args.no_report
    comparison = None
    if args.resume:
        check_resume_flags(args)
        results = [resume(args.resume, quiet=args.quiet, report=report, epochs=args.epochs)]
    else:
        overrides = overrides_from_flags(args)
        if is_recipe(args.config):  # a single-run recipe trains as its sweep would
            configs = [recipe_config(args.config, args, overrides)]
        else:
            configs = load_experiments(args.config, overrides)
        results, comparison = train_all(configs, quiet=args.quiet, report=report)
    print(console_table(results))
    for result in results:
        recalls = recall_line(result)
        if recalls:
            print(f"{result.run_dir.name}: {recalls}" if len(results) > 1 else recalls)
    for result in results:
        html = result.run_dir / "report.html"  # none when a resume had nothing to do
        shown = report and html.is_file()
        print(f"run directory: {result.run_dir}" + (f"  (report: {html})" if shown else ""))
    if comparison is not None:
        print(f"comparison report: {comparison}")
    return 0
