"""The base of every config model: unknown fields are errors, numbers are finite numbers, and a loaded config cannot
change."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from harness.schemas.names import reject_bool


class Strict(BaseModel):
    """A config model: extra fields are rejected (a typo is an error, not a silent default), instances are frozen,
    float fields refuse inf and NaN (`.inf`, `.nan`, "inf"), and number fields refuse booleans (`true` is not 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False,
                              use_attribute_docstrings=True)  # docs in `harness schema`

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        return reject_bool(value, field.annotation) if field is not None else value
