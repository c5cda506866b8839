"""Study files (submissions/studies/<name>.yaml): submissions run together over one track and seeds.

The file format is described in `harness.study`, which loads and checks it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from harness.schemas.base import Strict
from harness.schemas.names import Name


class StudyConfig(Strict):
    """A study file."""

    name: Name
    """See harness.schemas.names.NAME_RULE."""
    description: str = ""
    track: str
    seeds: list[Annotated[int, Field(ge=0, lt=2**32)]] | None = Field(None, min_length=1)
    """Seeds to run every submission with; None means the track's seeds."""
    curve_every: int | None = Field(None, ge=1)
    """Evaluate the domain tasks every N optimizer steps and keep the curve in the run."""
    submissions: list[str | dict[str, Any]]
