"""The range test's plot and table: `lr_find.png` and `lr_find.csv`."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from cnnlab.atomic import write_text
from cnnlab.lrfind.finder import LrFindResult
from cnnlab.visualize.save import save_figure


def lr_find_figure(result: LrFindResult) -> Figure:
    """Smoothed loss against learning rate (log x), both suggestions marked."""
    figure = Figure(figsize=(6, 4))
    ax = figure.add_subplot()
    ax.plot(result.lrs, result.smoothed, color="C0", label="smoothed loss")
    ax.set_xscale("log")
    suggestion = result.suggestion
    marks = (
        ("steepest", suggestion.steepest, "C1"),
        ("minimum / 10", suggestion.min_over_10, "C2"),
    )
    for label, lr, color in marks:
        ax.axvline(lr, color=color, linestyle="--", label=f"{label}: {lr:.2e}")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss (smoothed)")
    ax.set_title("learning-rate range test")
    ax.legend()
    figure.tight_layout()
    return figure


def lr_find_csv(result: LrFindResult) -> str:
    """One line per iteration: lr, loss, smoothed loss."""
    lines = ["iteration,lr,loss,smoothed_loss"]
    rows = zip(result.lrs, result.losses, result.smoothed, strict=True)
    lines += [f"{i + 1},{lr:.6g},{loss:.6g},{s:.6g}" for i, (lr, loss, s) in enumerate(rows)]
    return "\n".join(lines) + "\n"


def write_lr_find(result: LrFindResult, out_dir: Path) -> tuple[Path, Path]:
    """`lr_find.png` and `lr_find.csv` in `out_dir` (created); returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (png,) = save_figure(lr_find_figure(result), out_dir / "lr_find.png", formats=("png",))
    csv_path = write_text(out_dir / "lr_find.csv", lr_find_csv(result))
    return png, csv_path
