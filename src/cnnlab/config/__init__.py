"""One frozen, validated experiment description, from YAML plus `key=value` overrides."""

from cnnlab.config.load import (
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
    "TrainConfig",
    "apply_overrides",
    "build_config",
    "config_to_dict",
    "dump_config",
    "load_experiments",
    "parse_override",
]
