"""The learning-rate range test (`cnnlab lr-find`)."""

from cnnlab.lrfind.finder import LrFindResult, lr_find
from cnnlab.lrfind.output import lr_find_figure, write_lr_find
from cnnlab.lrfind.suggest import LrSuggestion, lr_schedule, smooth, suggest_lr

__all__ = [
    "LrFindResult",
    "LrSuggestion",
    "lr_find",
    "lr_find_figure",
    "lr_schedule",
    "smooth",
    "suggest_lr",
    "write_lr_find",
]
