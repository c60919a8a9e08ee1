"""How config.yaml text is read: PyYAML's safe loader, through libyaml where that is safe,
and the few keys a listing of many runs needs, read without building the document.

`RunDir` owns the file; this module only parses its text.
"""

from __future__ import annotations

import re
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
_INT_TAG = "tag:yaml.org,2002:int"


def _plain_scalar(text: str) -> Any:
    """A plain scalar typed as a full load types it (a string unless it reads as another type)."""
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    if tag == _STR_TAG:
        return text
    if tag == _INT_TAG and text.isdigit() and (text == "0" or text[0] != "0"):
        return int(text)  # plain decimal (a leading 0 is octal in YAML 1.1: the loader says)
    return load_yaml(text)


# The block style `dump_config` writes, one line at a time: `key: value`, `key:` (a nested
# block follows) or `- value`, with values a plain scalar of safe characters, a single-quoted
# one of printable ASCII, `''`, `{}` or `[]`. Nothing else (comments, tabs, other quotes,
# anchors, tags, block or multi-line scalars, non-ASCII...) matches: such text takes the
# libyaml event walk or the full load.
_WORD = r"[-A-Za-z0-9_./+]+(?::[-A-Za-z0-9_./+]+)*"  # a colon inside, never before a space
_VALUE = rf"(?:''|\{{\}}|\[\]|'[ -&(-~]*'|(?!-(?: |$)){_WORD}(?: {_WORD})*)"
_LINE = re.compile(rf"^( *)(?:- {_VALUE}|([A-Za-z_][A-Za-z0-9_]*):(?: ({_VALUE}))?)$", re.M)
_OUTLINE_PREFIXES = {path[:n] for path in OUTLINE for n in range(1, len(path) + 1)}


def _outline_from_lines(text: str) -> dict[str, Any] | None:
    """OUTLINE's values of block-style text whose every line `_LINE` matches, with the nesting
    checked as the parser checks it (a key at an indentation no open mapping has, an item not
    under a `key:`, a repeated key on the outline's path all give None: the parser says what);
    5x faster than the event walk, for a listing of many runs."""
    lines = _LINE.findall(text)
    if not lines or len(lines) != text.count("\n") + (not text.endswith("\n")):
        return None  # a line that is not `key: value`, `key:` or `- value` (or a blank one)
    found: dict[str, Any] = {}
    indents, paths = [0], [()]  # the open mappings: indentation and key path
    opened: tuple | None = None  # the path of a `key:` line just read, at `opened_at` spaces
    opened_at, items_at = -1, -1  # items_at: the indentation of the sequence being read
    seen: set[tuple] = set()
    for spaces, key, value in lines:
        indent = len(spaces)
        if not key:  # `- value`: an item of a sequence under the `key:` line before
            if opened is not None and indent >= opened_at:
                if opened in OUTLINE:
                    return None  # a sequence where a name belongs: the full load says what
                opened, items_at = None, indent
            elif indent != items_at:
                return None
            continue
        if opened is not None and indent > opened_at:  # the first key of a nested mapping
            if opened in OUTLINE:
                return None
            indents.append(indent)
            paths.append(opened)
        else:
            if opened in OUTLINE:
                found[OUTLINE[opened]] = None  # `key:` with nothing under it is null
            while indents[-1] > indent:
                indents.pop()
                paths.pop()
            if indents[-1] != indent:
                return None
        path = (*paths[-1], key)
        if path in _OUTLINE_PREFIXES:
            if path in seen:
                return None  # a repeated key: the last one wins a full load, whole
            seen.add(path)
        opened, opened_at, items_at = (None, -1, -1) if value else (path, indent, -1)
        name = OUTLINE.get(path) if value else None
        if name is not None:
            if value in ("{}", "[]"):
                return None
            found[name] = value[1:-1] if value[0] == "'" else _plain_scalar(value)
    if opened in OUTLINE:
        found[OUTLINE[opened]] = None
    epochs = found.get("epochs")
    found["epochs"] = epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None
    return {name: found.get(name) for name in OUTLINE.values()}


def _outline_from_events(text: str) -> dict[str, Any] | None:
    """OUTLINE's values read off libyaml's event stream, without building the document (3x
    faster than loading it: what a listing of many runs needs); None when the text uses
    anything the walk does not follow (aliases, complex keys, a root that is no mapping, a key
    on the outline's path given twice)."""
    found: dict[str, Any] = {}
    frames: list[list[Any]] = []  # per open collection: [path, is_mapping, pending key or None]
    seen: set[tuple] = set()
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            return None
        if isinstance(event, yaml.ScalarEvent):
            if not frames:
                return None
            path, is_mapping, key = frames[-1]
            if is_mapping and key is None:
                if (*path, event.value) in _OUTLINE_PREFIXES:
                    if (*path, event.value) in seen:
                        return None  # the last one wins a full load, whole
                    seen.add((*path, event.value))
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
    """OUTLINE's values of config text, line by line where the text is in the plain block style
    cnnlab writes, else off the event stream; None when the full load must say."""
    outline = _outline_from_lines(text)
    if outline is None and _shallow(text):
        outline = _outline_from_events(text)
    return outline


def outline_of(config: dict) -> dict[str, Any]:
    """OUTLINE's values of a loaded config mapping (None where absent or of the wrong kind)."""
    section = lambda name: config.get(name) if isinstance(config.get(name), dict) else {}  # noqa: E731
    epochs = section("train").get("epochs")
    return {
        "model": section("model").get("name"),
        "dataset": section("data").get("dataset"),
        "epochs": epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None,
    }
