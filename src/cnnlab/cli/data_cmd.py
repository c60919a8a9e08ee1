"""`cnnlab data list | profile | prepare | preview`: find, fetch, describe and preview datasets."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cnnlab.atomic import write_text
from cnnlab.cli.arguments import add_config_arguments, config_overrides
from cnnlab.config import load_experiments
from cnnlab.data import DATASETS, find_dataset, load_dataset
from cnnlab.data.locate import locate, search_places


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every verb that reads a dataset shares."""
    parser.add_argument("--data-dir", type=Path, help="directory searched first for datasets")
    parser.add_argument("--offline", action="store_true", help="never download")
    parser.add_argument("--skip-bad", action="store_true", help="skip unreadable images")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="find, fetch and profile datasets")
    verbs = data.add_subparsers(dest="data_verb", metavar="VERB", required=True)

    listing = verbs.add_parser("list", help="known datasets and where each was found")
    listing.add_argument("--data-dir", type=Path)
    listing.set_defaults(func=run_list)

    profile = verbs.add_parser("profile", help="sizes, balance, pixels, duplicates, leakage")
    names = ", ".join(info.display_name for info in DATASETS.values())
    profile.add_argument("name", help=f"{names}, or a folder or archive PATH")
    add_dataset_arguments(profile)
    profile.add_argument("--out", type=Path, help="where to save profile.md and examples.png")
    profile.set_defaults(func=run_profile)

    prepare = verbs.add_parser("prepare", help="download or import a dataset into the cache")
    prepare.add_argument("name")
    add_dataset_arguments(prepare)
    prepare.set_defaults(func=run_prepare)

    preview = verbs.add_parser(
        "preview",
        help="draw the first training batch as the model will see it (augmented, mixed)",
        description="Replay a config's first training batch of epoch 1 from its seed (order, "
        "data.augment, data.mixup / data.cutmix) and draw it with each image's target, "
        "before any training; the same picture a run saves as figures/augmented_batch.png.",
    )
    add_config_arguments(preview, "data.mixup=0.2")
    preview.add_argument(
        "--out", type=Path, default=Path("augmented_batch.png"), help="PNG file to write"
    )
    preview.set_defaults(func=run_preview)


def run_list(args: argparse.Namespace) -> int:
    print(
        "Searched, in order: "
        + ", ".join(f"{p.origin} {p.path}" for p in search_places(args.data_dir))
    )
    print(f"{'name':<15} {'shape':<9} {'classes':>7} {'train':>7} {'test':>7}  where")
    for name, info in DATASETS.items():
        if info.takes_path:
            print(f"{info.display_name:<15} {info.description}")
            continue
        if info.home is not None:
            where = "embedded in cnnlab"
        else:
            found = locate(name, data_dir=args.data_dir)
            where = (
                f"{found.path} ({found.form})"
                if found
                else f"not found (cnnlab data prepare {name})"
            )
        shape = "x".join(str(d) for d in info.image_shape)
        print(
            f"{name:<15} {shape:<9} {info.num_classes:>7} {info.train_size:>7,} {info.test_size:>7,}  {where}"
        )
    return 0


def run_profile(args: argparse.Namespace) -> int:
    from cnnlab.data.profile import (  # heavy imports load when the verb runs
        example_grid,
        profile_dataset,
        profile_markdown,
    )

    started = time.perf_counter()
    dataset = load_dataset(
        args.name, data_dir=args.data_dir, offline=args.offline, skip_bad=args.skip_bad
    )
    loaded = time.perf_counter() - started
    profile = profile_dataset(dataset)
    markdown = profile_markdown(profile)
    print(markdown)
    out = args.out or Path("runs") / f"data-{dataset.name.replace('/', '_')}"
    write_text(out / "profile.md", markdown)
    example_grid(dataset, out / "examples.png")
    print(f"loaded in {loaded:.2f} s; saved {out / 'profile.md'} and {out / 'examples.png'}")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    found = find_dataset(args.name, data_dir=args.data_dir, offline=args.offline)
    dataset = load_dataset(args.name, data_dir=args.data_dir, offline=True, skip_bad=args.skip_bad)
    sizes = ", ".join(f"{name} {len(split):,}" for name, split in dataset.splits.items())
    print(
        f"{args.name}: ready at {found.path} ({found.form}); {sizes}; {dataset.num_classes} classes"
    )
    if dataset.problems:
        print(f"skipped {len(dataset.problems)} unreadable item(s)")
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from cnnlab.errors import ConfigError
    from cnnlab.visualize.augmented_batch import write_preview  # heavy: loads on use

    configs = load_experiments(args.config, config_overrides(args))
    if len(configs) != 1:
        raise ConfigError(
            f"{args.config}: data preview takes one experiment, the config describes "
            f"{len(configs)} (pick one with --set, or use a config without compare:)"
        )
    print(write_preview(configs[0], args.out))
    return 0
