"""Study files (submissions/studies/<name>.yaml): submissions run together over one track and seeds.

The file format is described in `harness.study`, which loads and checks it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from harness.schemas.base import Strict


class StudyConfig(Strict):
    """A study file."""

    name: str
    description: str = ""
    track: str
    seeds: list[int] | None = None
    """Seeds to run every submission with; None means the track's seeds."""
    curve_every: int | None = Field(None, ge=1)
    """Evaluate the domain tasks every N optimizer steps and keep the curve in the run."""
    submissions: list[str | dict[str, Any]]
