"""base: no training; the track's base model evaluated as is. Every track's reference point."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from harness.methods.base import Method


class NoHyperparameters(BaseModel):
    """The base model takes no hyperparameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseMethod(Method):
    name = "base"
    trains = False
    config_class = NoHyperparameters
