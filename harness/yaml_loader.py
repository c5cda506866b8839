"""The one way the harness reads a YAML file (submissions, tracks, tasks, studies, suites).

Config files are plain data, so the reader accepts plain data only:

- UTF-8 text (a UTF-8 byte-order mark is ignored); UTF-16/UTF-32 and Latin-1 files are refused with
  the offending line and how to convert them;
- at most `MAX_BYTES` bytes and `MAX_DEPTH` levels of nesting;
- no duplicate keys (YAML would silently keep the last one), no anchors or aliases (`&x` / `*x`,
  which also rules out "billion laughs" expansion), no merge keys (`<<`);
- no tags beyond the standard scalar and collection ones (`!!python/...`, `!!binary`, `!custom` ...).

Every problem is a `ConfigError` naming the file and the 1-based line.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError, ConfigErrors

MAX_BYTES = 1_048_576
"""Largest config file read (1 MiB); the biggest shipped file is a few KB."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and sequences (a track file nests about 6 levels)."""

_STANDARD_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")
)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(Exception):
    def __init__(self, mark: yaml.Mark | None, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


class _PlainDataLoader(yaml.SafeLoader):
    """SafeLoader that also refuses anchors, aliases, non-standard tags, merge keys, duplicate keys
    and deep nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(event.start_mark, f"alias '*{event.anchor}' is not allowed; write the value out in full")
        if getattr(event, "anchor", None):
            raise _Refused(event.start_mark, f"anchor '&{event.anchor}' is not allowed; write each value out in full")
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _STANDARD_TAGS:
            shown = "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag
            raise _Refused(event.start_mark, f"tag {shown!r} is not allowed; config files hold plain strings, "
                           "numbers, booleans, lists and mappings")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                line = key_node.start_mark.line + 1
                if key_node.tag == _MERGE_TAG:
                    raise _Refused(key_node.start_mark, "merge key '<<' is not allowed; write the fields out in full")
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: SafeLoader reports it below
                    continue
                if first is not None:
                    raise _Refused(key_node.start_mark, f"duplicate key {key!r} (first at line {first}); "
                                   "YAML would keep only the last value: remove one")
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def decode_config_bytes(data: bytes, path: str | Path) -> str:
    """The text of a config file, which must be UTF-8."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise ConfigError(path, None, "the file is UTF-32 text (it starts with a UTF-32 byte-order mark); "
                          "save it as UTF-8", line=1)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ConfigError(path, None, "the file is UTF-16 text (it starts with a UTF-16 byte-order mark); "
                          "save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`)", line=1)
    data = data.removeprefix(codecs.BOM_UTF8)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ConfigError(path, None, "the file holds NUL bytes (UTF-16 or binary data?); save it as UTF-8 text",
                          line=data.count(b"\n", 0, nul) + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(path, None, f"not UTF-8 text: byte 0x{data[e.start]:02x} at column {column} cannot be "
                          "decoded (Latin-1 or Windows-1252?); save the file as UTF-8 "
                          "(e.g. `iconv -f LATIN1 -t UTF-8`)", line=line) from None


def read_config_text(path: str | Path) -> str:
    """A config file's text: it exists, is at most MAX_BYTES, and is UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, None, "file not found")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ConfigError(path, None, f"the file is {size:,} bytes; config files are limited to {MAX_BYTES:,}")
    return decode_config_bytes(path.read_bytes(), path)


LineMap = dict[tuple[str | int, ...], int]
"""Where each value sits: ("hyperparameters", "learning_rate") -> the line of that key; list items by index."""


def _collect_lines(node: yaml.Node, at: tuple[str | int, ...], first_line: int, out: LineMap) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                here = (*at, key_node.value)
                out[here] = key_node.start_mark.line + first_line
                _collect_lines(value_node, here, first_line, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*at, i)] = item.start_mark.line + first_line
            _collect_lines(item, (*at, i), first_line, out)


def with_lines(error: ConfigError, path: str | Path, lines: LineMap) -> ConfigError:
    """`error` (one or several) with the line of each field in `path` filled in from `lines`, where known."""
    def locate(one: ConfigError) -> ConfigError:
        if one.line is not None or one.path != str(path) or not one.field:
            return one
        loc = tuple(int(p) if p.isdigit() else p for p in one.field.split("."))
        while loc and loc not in lines:  # an unknown nested field: the line of its nearest known parent
            loc = loc[:-1]
        return ConfigError(one.path, one.field, one.message, line=lines[loc]) if loc else one

    if isinstance(error, ConfigErrors):
        return ConfigErrors([locate(e) for e in error.errors])
    return locate(error)


def parse_yaml(text: str, path: str | Path, first_line: int = 1) -> Any:
    """One YAML document of plain data; `first_line` is the file line `text` starts on (for messages)."""
    return parse_yaml_located(text, path, first_line)[0]


def parse_yaml_located(text: str, path: str | Path, first_line: int = 1) -> tuple[Any, LineMap]:
    """`parse_yaml`, plus the file line of every key and list item (see `LineMap`)."""
    loader = _PlainDataLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: LineMap = {}
        _collect_lines(node, (), first_line, lines)
        return loader.construct_document(node), lines
    except _Refused as e:
        line = e.mark.line + first_line if e.mark is not None else None
        raise ConfigError(path, None, e.message, line=line) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + first_line if mark is not None else None
        what = "; ".join(str(p) for p in (e.context, e.problem) if p)
        raise ConfigError(path, None, f"not valid YAML: {what}", line=line) from None
    except yaml.YAMLError as e:
        raise ConfigError(path, None, f"not valid YAML: {e}") from None
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A config file as a mapping of fields (the top level of every harness YAML file)."""
    return read_yaml_located(path)[0]


def read_yaml_located(path: str | Path) -> tuple[dict[str, Any], LineMap]:
    """`read_yaml`, plus the line of every key (for `with_lines`)."""
    data, lines = parse_yaml_located(read_config_text(path), path)
    if not isinstance(data, dict):
        raise ConfigError(path, None, "expected a mapping of fields at the top level", line=1)
    return data, lines
