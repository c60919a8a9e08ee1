"""How config.yaml text is read: PyYAML's safe loader, through libyaml where that is safe,
and the few keys a listing of many runs needs, read without building the document.

`RunDir` owns the file; this module only parses its text.
"""

from __future__ import annotations

from typing import Any

import yaml

# config.yaml files cnnlab writes are shallow; libyaml's C parser reads them 7x faster than
# PyYAML's (a listing of 1,000 runs is mostly this) but can overflow the C stack on input
# nested thousands deep, so a file with many brackets or deep indentation takes the Python path.
_HAS_LIBYAML = hasattr(yaml, "CSafeLoader")
_C_MAX_BRACKETS = 200
_C_MAX_INDENT = 128


def _shallow(text: str) -> bool:
    """Whether libyaml may parse `text`: few brackets, no deep indentation."""
    return (
        _HAS_LIBYAML
        and text.count("[") + text.count("{") <= _C_MAX_BRACKETS
        and all(len(line) - len(line.lstrip(" ")) <= _C_MAX_INDENT for line in text.splitlines())
    )


def load_yaml(text: str) -> object:
    """`yaml.safe_load(text)`, through libyaml when the text is shallow enough to be safe."""
    return yaml.load(text, Loader=yaml.CSafeLoader) if _shallow(text) else yaml.safe_load(text)


OUTLINE = {
    ("model", "name"): "model",
    ("data", "dataset"): "dataset",
    ("train", "epochs"): "epochs",
}


_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


def _plain_scalar(text: str) -> Any:
    """A plain scalar typed as a full load types it (a string unless it reads as another type)."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    return text if tag == _STR_TAG else yaml.load(text, Loader=yaml.CSafeLoader)


def _outline_from_events(text: str) -> dict[str, Any] | None:
    """OUTLINE's values read off libyaml's event stream, without building the document (3x
    faster than loading it: what a listing of many runs needs); None when the text uses
    anything the walk does not follow (aliases, complex keys, a root that is no mapping)."""
    found: dict[str, Any] = {}
    frames: list[list[Any]] = []  # per open collection: [path, is_mapping, pending key or None]
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            return None
        if isinstance(event, yaml.ScalarEvent):
            if not frames:
                return None
            path, is_mapping, key = frames[-1]
            if is_mapping and key is None:
                frames[-1][2] = event.value
                continue
            name = OUTLINE.get((*path, key)) if is_mapping else None
            if name is not None:  # a plain scalar is typed as a full load types it
                value = _plain_scalar(event.value) if event.implicit[0] else event.value
                if name == "epochs":
                    value = (
                        value if isinstance(value, int) and not isinstance(value, bool) else None
                    )
                found[name] = value
            if is_mapping:
                frames[-1][2] = None
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            is_mapping = isinstance(event, yaml.MappingStartEvent)
            if frames:
                path, parent_is_mapping, key = frames[-1]
                if parent_is_mapping and key is None:
                    return None  # a collection as a key
                child = (*path, key) if parent_is_mapping else (*path, "-")
                if child in OUTLINE:
                    return None  # a collection where a name belongs: the full load says what
            elif not is_mapping:
                return None
            else:
                child = ()
            frames.append([child, is_mapping, None])
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            frames.pop()
            if frames and frames[-1][1]:
                frames[-1][2] = None
        elif isinstance(event, yaml.DocumentEndEvent):
            break
    return {name: found.get(name) for name in OUTLINE.values()}


def read_outline(text: str) -> dict[str, Any] | None:
    """OUTLINE's values of config text, off the event stream; None when the full load must say."""
    return _outline_from_events(text) if _shallow(text) else None


def outline_of(config: dict) -> dict[str, Any]:
    """OUTLINE's values of a loaded config mapping (None where absent or of the wrong kind)."""
    section = lambda name: config.get(name) if isinstance(config.get(name), dict) else {}  # noqa: E731
    epochs = section("train").get("epochs")
    return {
        "model": section("model").get("name"),
        "dataset": section("data").get("dataset"),
        "epochs": epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None,
    }
