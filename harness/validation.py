"""From pydantic's validation errors to ConfigErrors that name the file, the field and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from harness.errors import ConfigError, ConfigErrors

M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: dict[str, Any], path: str | Path, prefix: str = "") -> M:
    """`model` validated from `data` read from `path`; every problem becomes one ConfigError in a ConfigErrors."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise validation_errors(path, e, model, prefix) from None


def validation_errors(path: Path | str, err: ValidationError, model: type[BaseModel], prefix: str = "") -> ConfigErrors:
    """Turn pydantic's errors into ConfigErrors that name the field and what is allowed."""
    out = []
    for e in err.errors():
        field = prefix + ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            allowed = allowed_fields(model, e["loc"][:-1])
            msg = f"unknown field. Allowed here: {', '.join(allowed)}" if allowed else "unknown field"
        elif e["type"] == "missing":
            msg = "required field is missing"
        else:
            msg = f"{e['msg']} (got {e.get('input')!r})"
        out.append(ConfigError(path, field, msg))
    return ConfigErrors(out)


def allowed_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names of the (nested) model at `loc`; [] when `loc` does not lead to a model."""
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        ann = getattr(info, "annotation", None) if info else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            args = getattr(ann, "__args__", ()) or ()
            sub = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
            if sub is None:
                return []
            model = sub
    return sorted(model.model_fields)
