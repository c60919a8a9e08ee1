"""The learning-rate range test (`cnnlab lr-find`): `lr_find` over a model and its loader, and
`lrfind.output` for its plot and table (kept out of this package's top, so training does not
load Matplotlib to run the test)."""

from cnnlab.lrfind.finder import LrFindResult, lr_find
from cnnlab.lrfind.suggest import LrSuggestion, lr_schedule, smooth, suggest_lr

__all__ = [
    "LrFindResult",
    "LrSuggestion",
    "lr_find",
    "lr_schedule",
    "smooth",
    "suggest_lr",
]
