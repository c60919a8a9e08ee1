"""Hyperparameter search with Optuna: a spec's space, pruned trials, a shared study."""

from cnnlab.search.space import Param, parse_space
from cnnlab.search.spec import SearchSpec, build_search_spec, load_search_spec
from cnnlab.search.study import SearchResult, run_search

__all__ = [
    "Param",
    "SearchResult",
    "SearchSpec",
    "build_search_spec",
    "load_search_spec",
    "parse_space",
    "run_search",
]
