"""The base of every config model: unknown fields are errors, and a loaded config cannot change."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A config model: extra fields are rejected (a typo is an error, not a silent default) and instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)  # docs in `harness schema`
