"""What the harness offers, for `harness ls` and `harness schema`: names with one-line descriptions, and the JSON
Schema of each config file (field docs included) for editors.

Light: reads YAML headers and the methods registry's specs (no method implementation, no torch).
"""

from __future__ import annotations

import copy
import typing
from pathlib import Path
from typing import Any

from harness.discovery import REPO_ROOT, list_suites, list_tasks, list_tracks, suite_path, tasks_dir, track_path
from harness.errors import ConfigError
from harness.methods import config_class, method_names, method_spec
from harness.schemas import StudyConfig, SubmissionConfig, TrackConfig
from harness.yaml_loader import read_yaml

STUDIES_DIR = REPO_ROOT / "submissions" / "studies"
KINDS = ("tracks", "methods", "tasks", "suites", "studies")
SCHEMAS = {"submission": SubmissionConfig, "track": TrackConfig, "study": StudyConfig}


def _first_comment(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            text = line.lstrip("#").strip()
            if text and not text.startswith("harness "):
                return text
        elif line.strip():
            break
    return ""


def _describe(path: Path) -> str:
    """A YAML file's `description`, else its first comment line; '' for a file that does not read."""
    try:
        data = read_yaml(path)
    except ConfigError:
        return ""
    description = data.get("description") if isinstance(data, dict) else None
    return " ".join(str(description).split()) if description else _first_comment(path)


def listing(kind: str) -> list[dict[str, str]]:
    """[{"name", "description"}, ...] of one kind (one of KINDS), sorted by name."""
    if kind == "methods":
        return [{"name": n, "description": method_spec(n).summary} for n in sorted(method_names())]
    if kind == "tracks":
        return [{"name": n, "description": _describe(track_path(n))} for n in list_tracks()]
    if kind == "tasks":
        return [{"name": n, "description": _describe(tasks_dir() / f"{n}.yaml")} for n in list_tasks()]
    if kind == "suites":
        return [{"name": n, "description": _describe(suite_path(n))} for n in list_suites()]
    if kind == "studies":
        return [{"name": p.stem, "description": _describe(p)} for p in sorted(STUDIES_DIR.glob("*.yaml"))]
    raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")


def _list_typed(annotation: Any) -> bool:
    return any(typing.get_origin(a) in (list, tuple) or a in (list, tuple) for a in (annotation, *typing.get_args(annotation)))


def hyperparameters_schema(method: str) -> dict[str, Any]:
    """The JSON Schema of a method's hyperparameters, where every scalar field may also be a list (a sweep)."""
    cls = config_class(method)
    schema = cls.model_json_schema()
    for name, prop in schema.get("properties", {}).items():
        if name in cls.model_fields and not _list_typed(cls.model_fields[name].annotation):
            one = {k: v for k, v in prop.items() if k not in ("title", "description", "default")}
            doc = {k: prop[k] for k in ("title", "description", "default") if k in prop}
            schema["properties"][name] = {**doc, "anyOf": [one, {"type": "array", "items": one, "minItems": 1,
                                                                 "description": "a sweep: one run per value"}]}
    return schema


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a config file kind: submission, track or study. A submission's
    `hyperparameters` are checked against the named method's config class (one if/then per method)."""
    if kind not in SCHEMAS:
        raise ValueError(f"unknown schema {kind!r}; one of {', '.join(SCHEMAS)}")
    schema = copy.deepcopy(SCHEMAS[kind].model_json_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    if kind == "submission":
        names = sorted(method_names())
        schema["properties"]["method"] = {**schema["properties"].get("method", {}), "enum": names}
        branches = []
        for name in names:
            hp = hyperparameters_schema(name)
            defs = hp.pop("$defs", {})
            schema.setdefault("$defs", {}).update(defs)
            branches.append({"if": {"properties": {"method": {"const": name}}, "required": ["method"]},
                             "then": {"properties": {"hyperparameters": hp}}})
        schema["allOf"] = branches
    return schema
