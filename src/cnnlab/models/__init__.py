"""Models built layer by layer: a registry, a layer-spec language, user files and a summary.

    build_model("resnet18", (3, 32, 32), 10)                      # registered name
    build_model("spec", (1, 28, 28), 10, spec="conv(32,5,pad=2) relu pool(2) flatten linear")
    build_model("configs/models/mnist_v1_conv_pool_linear.yaml", (1, 28, 28), 10)
    build_model("models/mymodel.py:MyNet", (1, 28, 28), 10)       # a user's own class

Builders return plain CPU nets taking float input (N, C, H, W). A `Classifier` puts a
`Normalize` step in front of one and keeps its architecture record (`models.architecture`),
which is what a checkpoint holds besides the weights.
"""

from cnnlab.models.architecture import build_net, classifier_from_record, describe, seeded
from cnnlab.models.classifier import Classifier, Normalize, predict_logits, safe_std
from cnnlab.models.registry import (
    ALIASES,
    MODELS,
    ModelEntry,
    build_model,
    list_models,
    option_names,
    resolve_name,
)
from cnnlab.models.spec import build_spec, spec_model
from cnnlab.models.spec_parse import LayerCall, load_spec, parse_spec
from cnnlab.models.summary import LayerRow, format_summary, summarize, summary_markdown, totals
from cnnlab.models.summary_table import Summary, summary_table
from cnnlab.models.transfer_net import InputAdapter, TransferNet, head_name
from cnnlab.models.user import load_user_model

__all__ = [
    "ALIASES",
    "Classifier",
    "InputAdapter",
    "Normalize",
    "TransferNet",
    "build_net",
    "classifier_from_record",
    "describe",
    "head_name",
    "predict_logits",
    "safe_std",
    "seeded",
    "MODELS",
    "LayerCall",
    "LayerRow",
    "ModelEntry",
    "Summary",
    "build_model",
    "build_spec",
    "format_summary",
    "list_models",
    "load_spec",
    "load_user_model",
    "option_names",
    "parse_spec",
    "resolve_name",
    "spec_model",
    "summarize",
    "summary_markdown",
    "summary_table",
    "totals",
]
