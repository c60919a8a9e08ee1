"""One frozen, validated experiment description, from YAML plus overrides (typed or `key=value`)."""

from cnnlab.config.compare import config_changes, flatten
from cnnlab.config.load import (
    Overrides,
    apply_overrides,
    build_config,
    config_to_dict,
    dump_config,
    load_experiments,
    parse_override,
)
from cnnlab.config.schema import (
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
)

__all__ = [
    "DataConfig",
    "ExperimentConfig",
    "ModelConfig",
    "OptimConfig",
    "Overrides",
    "TrainConfig",
    "apply_overrides",
    "build_config",
    "config_changes",
    "config_to_dict",
    "dump_config",
    "flatten",
    "load_experiments",
    "parse_override",
]
