"""The transfer recipes with --quick: recipe 6a's backbone, then recipes 6 and 6b from it.

Each recipe's grid is cut to its first epoch budget and size (both methods kept), so this
stays fast; `benchmarks/recipes_quick.py` runs every grid point.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path

import yaml

from cnnlab.sweep import load_spec, run_sweep

RECIPES = Path(__file__).parents[2] / "configs" / "recipes"


def test_the_transfer_recipes_run_with_quick(tmp_path):
    run_sweep(
        load_spec(RECIPES / "cifar10-five-class-pretrain.yaml", quick=True), tmp_path, report=False
    )
    backbone = tmp_path / "cifar10-five-class-pretrain" / "runs" / "seed=0"
    assert (backbone / "best.pt").is_file()
    for recipe in ("transfer-vs-scratch.yaml", "transfer-vs-scratch-folder.yaml"):
        spec = load_spec(RECIPES / recipe, quick=True)
        assert [len(values) for _, values in spec.grid] == [2, 2, 2]
        grid = tuple((key, values if key == "variant" else values[:1]) for key, values in spec.grid)
        result = run_sweep(dataclasses.replace(spec, grid=grid), tmp_path, report=False)
        with open(result.csv_path, newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
        assert [(row["variant"], row["status"]) for row in rows] == [
            ("scratch", "finished"),
            ("transfer", "finished"),
        ]
        transfer = result.sweep_dir / "runs" / rows[1]["run"] / "config.yaml"
        config = yaml.safe_load(transfer.read_text(encoding="utf-8"))
        assert config["model"]["pretrained"] == str(backbone.resolve())
        assert config["model"]["name"] == "convnet_deep"
        markdown = re.sub(" +", " ", result.markdown_path.read_text(encoding="utf-8"))
        assert "| variant \\ epochs, per_class | 3, 5 |" in markdown
        assert [p.name for p in result.figures] == [
            "test_accuracy.png",
            "test_f1_macro.png",
            "epoch_accuracy.png",
        ]
