"""A config file read into its schema: the one YAML reader, then pydantic, with every error located.

`read_model_file(Model, path)` is what tasks, tracks, suites and studies are read with: the file goes
through harness.yaml_loader (UTF-8, no duplicate keys, no aliases or tags, bounded size and depth),
is validated into `Model`, and every ConfigError carries the line of the field it names.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from harness.errors import ConfigError
from harness.validation import parse_model
from harness.yaml_loader import LineMap, read_yaml_located, with_lines

M = TypeVar("M", bound=BaseModel)

__all__ = ["located", "read_model_file"]


def read_model_file(model: type[M], path: Path) -> tuple[M, LineMap]:
    """`path` validated into `model`, and the file's line map (for errors found after validation)."""
    data, lines = read_yaml_located(path)
    return located(lambda: parse_model(model, data, path), path, lines), lines


def located(check, path: str | Path, lines: LineMap):
    """`check()`'s result; a ConfigError it raises gets the line of each field it names."""
    try:
        return check()
    except ConfigError as e:
        raise with_lines(e, path, lines) from None
